#!/usr/bin/env python3
"""Faults that break real HA clusters, one at a time or as a matrix against every
HA layout: inject the fault with the prober on, hold it, clear it, and wait for
the cluster to come back to the figure-5 state (or report that it never did),
watching who owns the VIP all along.

  sudo python3 experiments/faults.py --fault cable-pull                 # heartbeat, laicoz
  sudo python3 experiments/faults.py --stack keepalived --fault partition
  sudo python3 experiments/faults.py --fault loss --percent 30 --target laicoz
  sudo python3 experiments/faults.py --matrix                           # every fault x layout
"""
import csv
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments import common  # noqa: E402

CELL_FIELDS = ['layout', 'fault', 'target', 'detected_s', 'first_failure_s', 'outage_s',
               'failing_s', 'impaired_s', 'failed_requests', 'requests', 'dual_owner_s', 'no_owner_s',
               'arp_flips', 'recovered_after_clear_s', 'final_owner', 'left_behind', 'passed']


def parse_args(argv=None):
    from experiments.scenario import Measure
    from topo import faults, ha
    from topo.network.config import ConfigError
    known = faults.load()
    p = common.base_parser(__doc__.splitlines()[0])
    p.add_argument('--stack', default='heartbeat', choices=sorted(ha.load()),
                   help='HA stack on the two directors (one fault)')
    g = p.add_argument_group('fault')
    g.add_argument('--fault', choices=sorted(known),
                   help='; '.join('%s: %s' % (n, c.description) for n, c in sorted(known.items())))
    g.add_argument('--target', help='node the fault hits (default: laicoz; a real server '
                   'for hang)')
    g.add_argument('--hold', type=float, default=15.0, metavar='S',
                   help='seconds the fault stays before it is cleared (long enough for a '
                        'takeover under UML to complete)')
    g.add_argument('--then', choices=sorted(known), metavar='FAULT',
                   help='a second fault of laicoz while the first is in place (e.g. '
                        '--fault partition --then power-off: a failover whose backup took '
                        'the VIP before it, which must be reported as a false takeover)')
    g.add_argument('--percent', type=float, default=30.0, help='loss: packets lost (%%)')
    g.add_argument('--count', type=int, default=10, help='flap: cable pulls')
    g.add_argument('--period', type=float, default=2.0, metavar='S',
                   help='flap: seconds of one pull and plug')
    m = p.add_argument_group('matrix')
    m.add_argument('--matrix', action='store_true',
                   help='every fault against every HA layout, one cluster boot each')
    m.add_argument('--faults', default=','.join(sorted(known)),
                   help='faults of the matrix')
    m.add_argument('--layouts', default=','.join(ha.layouts()),
                   help='HA layouts of the matrix, of: %s' % ', '.join(ha.layouts()))
    common.add_cluster_args(p)
    d = Measure()
    g.add_argument('--probe-rate', type=float, default=d.probe_rate, metavar='R')
    g.add_argument('--wait', type=float, default=120.0, metavar='S',
                   help='longest wait for the cluster to come back after the clear')
    ha.add_arguments(p)
    args = p.parse_args(argv)
    try:
        args.config = common.cluster_config(args)
        args.measure = Measure(probe_rate=args.probe_rate, wait=args.wait)
        if args.matrix:
            given = ha.given_flags(args)
            if given:
                raise ConfigError('--matrix runs every layout with its own settings: leave '
                                  'out %s' % ', '.join(given))
            args.cells = matrix_cells(args, known)
        else:
            if not args.fault:
                raise ConfigError('choose a --fault (or --matrix)')
            settings = ha.settings_from_args(args.stack, args)
            args.cells = [(args.stack, ha.get(args.stack), settings, args.fault,
                           args.target or known[args.fault].default_target)]
        for _, _, _, fault, target in args.cells:
            known[fault].check_target(target, args.config)
        if args.hold <= 0 or args.count < 1 or args.period <= 0 or \
                not 0 < args.percent <= 100:
            raise ConfigError('--hold, --count, --period must be positive, --percent 0..100')
    except ValueError as e:
        p.error(str(e))
    return args


def matrix_cells(args, known):
    from topo import ha
    layouts = ha.layouts()
    names = [n for n in args.layouts.split(',') if n]
    chosen = [f for f in args.faults.split(',') if f]
    bad = [n for n in names if n not in layouts] + [f for f in chosen if f not in known]
    if bad or not names or not chosen:
        raise ValueError('unknown layout or fault: %s' % (', '.join(bad) or 'none chosen'))
    return [(n, layouts[n][0], layouts[n][0].Settings().replace(**layouts[n][1]), f,
             args.target or known[f].default_target) for n in names for f in chosen]


def fault_params(args, fault):
    from topo import faults
    return {k: getattr(args, k) for k in faults.get(fault).params}


def steps_for(args, fault, target):
    """Cluster up, prober on; the fault held and cleared (with --then, a second fault
    on the primary while the first is in place); back to the figure-5 state."""
    from experiments import scenario as s
    from topo.network.config import PRIMARY
    steps = s.CLUSTER_UP + [s.StartProber(), s.Settle(),
                            s.Say('injecting %s into %s' % (fault, target)),
                            s.Inject(fault, target, **fault_params(args, fault)),
                            s.Hold(args.hold)]
    if args.then:
        steps += [s.Say('then %s of %s' % (args.then, PRIMARY)),
                  s.Inject(args.then, PRIMARY, **fault_params(args, args.then)),
                  s.Hold(args.hold), s.Say('clearing %s' % args.then), s.Clear(PRIMARY)]
    return steps + [s.Say('clearing %s' % fault), s.Clear(target), s.WaitRecovered(), s.Settle(),
                    LeftBehind()]


class LeftBehind:
    """The last step, while the cluster still runs: what the fault left in it."""

    def __call__(self, run):
        run.summary.update(left_behind=left_behind(run))


def left_behind(run):
    """What the fault left in the cluster at the end, against the figure-5 state."""
    from topo.network.config import DIRECTORS
    out = []
    if not run.faults or not run.faults[0].get('recovered'):
        out.append('never back to the figure-5 state')
    owners = run.rec.owners(DIRECTORS)
    if len(owners) != 1:
        out.append('%d VIP owners at the end' % len(owners))
    for d in DIRECTORS:
        st, reals = run.rec.node(d), run.rec.reals(d, run.service)
        if d in owners and reals != set(run.reals):
            out.append('%s serves with %d of %d real servers' % (d, len(reals), len(run.reals)))
        if d not in owners:
            if st['vip']:
                out.append('%s still holds the VIP' % d)
            if run.stack.backup_table_warm and reals != set(run.reals):
                out.append('%s stands by with %d of %d real servers' % (d, len(reals),
                                                                         len(run.reals)))
            if not run.stack.backup_table_warm and st['table']:
                out.append('%s stands by with an IPVS table (should be empty: its '
                           'director daemon was left running)' % d)
    return out


def run_cell(args, layout, cls, settings, fault, target, out):
    from experiments import scenario, timeline
    stack = cls(args.config, settings)
    run = scenario.Run(args.config, stack, args.measure, out, experiment='fault')
    status = run.run(steps_for(args, fault, target), expect='recovery',
                     dual_owner_allowed=True)
    data = run.summary.data
    record = run.faults[0] if run.faults else None
    if record is None:
        cell = {'fault': fault, 'target': target, 'passed': False}
    else:
        cell = timeline.fault_cell(run.rec.events, run.rec.probes, record, stack, args.config,
                                   run.t_end, 1.0 / args.measure.probe_rate)
        cell['passed'] = status == 0
    cell.update(layout=layout, kernel_mode=data['kernel_mode'], results=str(out),
                left_behind=data.get('left_behind', ['the run ended before its last step']))
    run.summary.update(fault_cell=cell)
    try:
        from experiments import plot_faults
        plot_faults.timeline_plot(out)
    except Exception as e:      # the data stand without the figure
        common.stage('plot failed: %s: %s' % (type(e).__name__, e))
    return cell


def body(args, out):
    from topo import sandbox
    summary = common.Summary(out / 'summary.json', experiment='faults',
                             kernel_mode=sandbox.kernel_mode(),
                             parameters=dict(hold_s=args.hold, percent=args.percent,
                                             count=args.count, period_s=args.period,
                                             probe_rate=args.probe_rate),
                             faults=[])
    f = open(out / 'fault_matrix.csv', 'w', newline='')
    writer = csv.DictWriter(f, CELL_FIELDS, extrasaction='ignore')
    writer.writeheader()
    started = time.monotonic()
    try:
        for n, (layout, cls, settings, fault, target) in enumerate(args.cells):
            if n:
                left = (time.monotonic() - started) / n * (len(args.cells) - n)
                common.stage('== about %d min %02d s left' % divmod(int(left), 60))
            common.stage('== cell %d/%d: %s on %s, %s'
                         % (n + 1, len(args.cells), fault, target, layout))
            cell_out = out / 'cells' / ('%s-%s' % (layout, fault))
            cell_out.mkdir(parents=True)
            cell = run_cell(args, layout, cls, settings, fault, target, cell_out)
            if len(args.cells) == 1 and (cell_out / 'fault_timeline.png').exists():
                shutil.copy2(cell_out / 'fault_timeline.png', out)
            summary.data['faults'].append(cell)
            summary.write()
            writer.writerow(dict(cell, left_behind='; '.join(cell['left_behind'])))
            f.flush()
            common.stage('== %s on %s, %s: outage %s s, dual owner %s s, back after %s s'
                         % (fault, target, layout, cell.get('outage_s'),
                            cell.get('dual_owner_s'), cell.get('recovered_after_clear_s')))
    finally:
        f.close()
    ok = all(c.get('passed') for c in summary.data['faults'])
    summary.finish(passed=ok)
    if len(args.cells) > 1:
        try:
            from experiments import plot_faults
            plot_faults.matrix_plot(out)
        except Exception as e:
            print('plotting failed: %s' % e)
    print('\n%-12s %-11s %-8s %8s %8s %8s %8s %8s  %s' % (
        'layout', 'fault', 'target', 'detect', 'outage', 'failed', 'dual', 'back', 'final'))
    for c in summary.data['faults']:
        print('%-12s %-11s %-8s %8s %8s %8s %8s %8s  %s' % tuple(
            '-' if c.get(k) is None else c.get(k) for k in (
                'layout', 'fault', 'target', 'detected_s', 'outage_s', 'failed_requests',
                'dual_owner_s', 'recovered_after_clear_s', 'final_owner')))
    print('\n%s (%s kernel); results in %s' % ('PASS' if ok else 'FAIL: some cells did not '
                                               'recover or broke an invariant',
                                               summary.data['kernel_mode'], out))
    return 0 if ok else 1


def main(argv=None):
    common.use_system_python()
    args = parse_args(argv)
    first = {}
    for layout, cls, settings, _, _ in args.cells:
        first.setdefault(layout, cls(args.config, settings))
    return common.run(args, ['cluster', 'plots'], 'faults', lambda out: body(args, out),
                      stacks=list(first.values()))


if __name__ == '__main__':
    sys.exit(main())
