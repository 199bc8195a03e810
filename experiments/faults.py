#!/usr/bin/env python3
"""Faults that break real HA clusters, one at a time or as a matrix against every
HA layout: inject the fault with the prober on, hold it, clear it, and wait for
the cluster to come back to the figure-5 state (or report that it never did),
watching who owns the VIP all along.

  sudo python3 experiments/faults.py --fault cable-pull                 # heartbeat, laicoz
  sudo python3 experiments/faults.py --stack keepalived --fault partition
  sudo python3 experiments/faults.py --fault loss --percent 30 --node laicoz
  sudo python3 experiments/faults.py --target machines.yml --fault partition   # real machines
  sudo python3 experiments/faults.py --matrix                           # every fault x layout
  sudo python3 experiments/faults.py --matrix --trials 5                # medians and spreads
"""
import sys
from pathlib import Path

if __name__ == '__main__':      # run as a file: its folder holds scripts, the package is one up
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from topo import faults, ha  # noqa: E402
from topo.analysis import report  # noqa: E402
from topo.engine import cli, scenarios  # noqa: E402
from topo.engine.matrix import Cell, Matrix  # noqa: E402
from topo.engine.run import Plan, stage  # noqa: E402

FIELDS = ['layout', 'fault', 'target', 'noticed_s', 'owner_change_s', 'table_complete_s',
          'service_back_s', 'first_failure_s', 'outage_s', 'failing_s', 'impaired_s',
          'failed_requests', 'requests', 'dual_owner_s', 'no_owner_s', 'arp_flips',
          'recovered_after_clear_s', 'final_owner', 'fenced', 'left_behind', 'passed']


def parse_args(argv=None):
    known = faults.load()
    p = cli.base_parser(__doc__.splitlines()[0])
    p.add_argument('--stack', default='heartbeat', choices=ha.stack_names(redundant=False),
                   help='HA stack on the two directors (one fault)')
    g = p.add_argument_group('fault')
    g.add_argument('--fault', choices=sorted(known),
                   help='; '.join('%s: %s' % (n, c.description) for n, c in sorted(known.items())))
    g.add_argument('--node', help='node the fault hits (default: laicoz; a real server '
                   'for hang)')
    g.add_argument('--hold', type=float, default=15.0, metavar='S',
                   help='seconds the fault stays before it is cleared (long enough for a '
                        'takeover under UML to complete)')
    g.add_argument('--then', choices=sorted(known), metavar='FAULT',
                   help='a second fault of laicoz while the first is in place (e.g. '
                        '--fault partition --then power-off: a failover whose backup took '
                        'the VIP before it, which must be reported as a false takeover)')
    params = {}                 # every fault's parameters become flags
    for cls in known.values():
        for name, default in cls.params.items():
            params.setdefault(name, []).append(cls.name)
            if len(params[name]) == 1:
                g.add_argument('--' + name, type=type(default), default=default,
                               help=cls.param_help.get(name))
    m = p.add_argument_group('matrix')
    m.add_argument('--matrix', action='store_true',
                   help='every fault against every HA layout, one cluster boot each')
    m.add_argument('--faults', default=','.join(sorted(known)), help='faults of the matrix')
    m.add_argument('--layouts', default=','.join(ha.layouts()),
                   help='HA layouts of the matrix, of: %s' % ', '.join(ha.layouts()))
    cli.add_cluster_args(p)
    cli.add_measure_args(p, 'probe_rate', 'wait', wait=120.0)
    cli.add_trials_arg(p)
    ha.add_arguments(p)
    args = p.parse_args(argv)
    given = cli.given(p, argv)
    cli.refuse(p, given, 'matrix' if args.matrix else 'one', {
        'faults': (('matrix',), '--matrix'), 'layouts': (('matrix',), '--matrix'),
        'stack': (('one',), 'one fault (--matrix runs every layout)'),
        'fault': (('one',), 'one fault (--matrix has --faults)')})
    try:
        trials, keep = cli.trials(args)
        config = cli.cluster_config(args)
        if args.matrix:
            layouts = cli.layouts(args, 'one --fault')
            chosen = cli.names(args.faults, known, 'fault')
            stacks = [(n, ha.layout_stack(n, config, args)) for n in layouts]
        else:
            if not args.fault:
                raise ValueError('choose a --fault (or --matrix)')
            stack = ha.get(args.stack)(config, ha.settings_from_args(args.stack, args))
            stacks, chosen = [(stack.layout, stack)], [args.fault]
        used = set(chosen) | {args.then} - {None}
        for name, owners in params.items():
            if name in given and not used & set(owners):
                raise ValueError('--%s is a parameter of %s, which this run does not inject'
                                 % (name, ' and '.join(owners)))
        if args.hold <= 0:
            raise ValueError('--hold must be positive')
        for fault in used:
            known[fault].check_params(fault_params(args, fault))
        cells = []
        for layout, stack in stacks:
            for fault in chosen:
                target = args.node or known[fault].default_target
                known[fault].check_target(target, config)
                known[fault].check_stack(fault_params(args, fault), stack)
                scenario = scenarios.fault(
                    fault, target, args.hold, fault_params(args, fault), args.then,
                    fault_params(args, args.then) if args.then else None)
                cells.append(Cell('%s-%s' % (layout, fault), stack, scenario,
                                  {'fault': fault, 'target': target}, experiment='fault'))
        plan = Plan('faults', config, None if args.matrix else stacks[0][1],
                    cli.measure(args, wait=120.0), options={'hold_s': args.hold},
                    cells=cells, trials=trials, keep_degraded=keep)
    except ValueError as e:
        p.error(str(e))
    return args, plan


def fault_params(args, fault):
    return {k: getattr(args, k) for k in faults.get(fault).params}


def row(cell, result, out):
    """The cell's fault as the run's analysis decomposed it (the first fault injected)."""
    timelines = result.analysis.get('fault_timelines') or [cell.labels]
    entry = dict(timelines[0])
    entry.update(layout=cell.stack.layout, passed=result.passed, results=str(out),
                 left_behind=result.measured.left_behind
                 if result.measured.left_behind is not None
                 else ['the run ended before its last step'])
    stage('== %s on %s, %s: noticed %s s, service back %s s, two owners %s s, whole again '
          '%s s after the clear%s' % (entry['fault'], entry['target'], entry['layout'],
                                      entry.get('noticed_s'), entry.get('service_back_s'),
                                      entry.get('dual_owner_s'),
                                      entry.get('recovered_after_clear_s'),
                                      '; fenced: %s' % entry['fenced']
                                      if entry.get('fenced') else ''))
    return entry, [dict(entry, left_behind='; '.join(entry['left_behind']))]


def main(argv=None):
    cli.use_system_python()
    args, plan = parse_args(argv)

    def body(out):
        Matrix(plan, out, trials=plan.trials).run(
            'faults', row, 'fault_matrix.csv', FIELDS,
            lambda cell_out: report.run(report.load(cell_out), cell_out))
        s = report.load(out)
        report.faults(s, out)
        return 0 if s['passed'] else 1
    return cli.execute(args, plan, body)


if __name__ == '__main__':
    sys.exit(main())
