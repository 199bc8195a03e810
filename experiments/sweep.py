#!/usr/bin/env python3
"""Failover time against failure-detection settings, for every HA layout the
stacks offer (heartbeat as in the paper, heartbeat hot standby, keepalived, ...).

For every layout and value of its stack's detection setting (heartbeat deadtime,
keepalive = deadtime/4; keepalived advert_int) the cluster is started once and
the primary director is switched off and on --repeats times; the
client-observed outage of each failover is measured as in experiments/failover.py.
With --loss and --starve, every point also boots once more per condition and
holds the primary director under it (its cable lossy; its CPU starved): laicoz
never fails, so a takeover then is a false one, the price of a fast detection.

  sudo python3 experiments/sweep.py
  sudo python3 experiments/sweep.py --deadtimes 1,2 --advert-ints 0.2,1 --repeats 1
  sudo python3 experiments/sweep.py --trials 5      # five boots per point: medians and spreads
  sudo python3 experiments/sweep.py --loss 30 --starve 0.1 --trials 5
                                         # outage against false takeovers
  sudo python3 experiments/sweep.py --configurations keepalived --vip 2001:db8:14::146
"""
import sys
from pathlib import Path

if __name__ == '__main__':      # run as a file: its folder holds scripts, the package is one up
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from topo import ha  # noqa: E402
from topo.analysis import report  # noqa: E402
from topo.analysis.checks import invariant_problems  # noqa: E402
from topo.engine import cli, scenarios  # noqa: E402
from topo.engine.matrix import Cell, Matrix  # noqa: E402
from topo.engine.run import Plan, stage  # noqa: E402
from topo.network.config import PRIMARY  # noqa: E402
from topo.stats import spread  # noqa: E402

FIELDS = ['configuration', 'setting', 'setting_s', 'repeat', 'outage_s', 'detected_s',
          'vip_taken_s', 'table_ready_s', 'first_ok_s', 'failed_requests', 'outage_per_setting']
STRESS_FIELDS = ['configuration', 'setting', 'setting_s', 'condition', 'false_takeover',
               'owner_change_s', 'dual_owner_s', 'no_owner_s', 'arp_flips', 'failed_requests',
               'requests', 'recovered_after_clear_s', 'final_owner', 'vouched', 'passed',
               'degraded']


def parse_args(argv=None):
    known = ha.layouts()
    p = cli.base_parser(__doc__.splitlines()[0])
    p.add_argument('--configurations', default=','.join(known),
                   help='HA layouts to sweep, of: %s' % '; '.join(
                       '%s (%s)' % (k, v[2]) for k, v in known.items()))
    axes = {}
    for cls in ha.load().values():
        axis = cls.sweep_axis
        if axis and axis.flag not in axes:
            axes[axis.flag] = axis
            p.add_argument(axis.flag, default=axis.default, help='%s values, comma-separated'
                           % axis.label)
    p.add_argument('--repeats', type=int, default=3, help='failovers per point (one boot)')
    g = p.add_argument_group('false takeovers: laicoz held under a condition that is no '
                             'failure, one more boot per point and condition')
    g.add_argument('--loss', type=float, metavar='PERCENT',
                   help="packets lost on laicoz's cable, both ways")
    g.add_argument('--starve', type=float, metavar='SHARE',
                   help="the share of one CPU laicoz keeps (a busy loop takes the rest; "
                        'its daemons run in one burst each --cycle)')
    g.add_argument('--cycle', type=float, default=1.0, metavar='S',
                   help='--starve: seconds of one burst and its wait (default 1)')
    g.add_argument('--hold', type=float, default=20.0, metavar='S',
                   help='seconds each condition is held (default 20)')
    # the paper's cluster, its service in either family or both
    cli.add_address_args(p.add_argument_group('cluster (otherwise the paper\'s)'))
    cli.add_trials_arg(p)
    cli.add_measure_args(p, 'probe_rate', 'settle', settle=2.0)
    args = p.parse_args(argv)
    given = cli.given(p, argv)
    try:
        chosen = cli.names(args.configurations, known, 'configuration')
        if args.repeats < 1:
            raise ValueError('--repeats must be at least 1')
        swept = {known[c][0].sweep_axis.flag for c in chosen}
        for flag in axes:
            if flag.lstrip('-').replace('-', '_') in given and flag not in swept:
                raise ValueError('%s: none of the chosen configurations (%s) has that setting'
                                 % (flag, ', '.join(chosen)))
        stress = conditions(args, given)
        trials, keep = cli.trials(args)
        config = cli.cluster_config(args)
        cells = []
        for name in chosen:
            cls, changes, _ = known[name]
            axis = cls.sweep_axis
            for value in cli.numbers(getattr(args, axis.flag.lstrip('-').replace('-', '_')),
                                      axis.flag, float):
                # every point's settings are checked now, before anything starts
                settings = cls.Settings().replace(**dict(changes, **axis.settings_for(value)))
                labels = {'configuration': name, 'setting': axis.setting,
                          'setting_s': round(value * axis.seconds, 6)}
                cells.append(Cell('%s-%s-%g' % (name, axis.setting, value), cls(config, settings),
                                  scenarios.failovers(args.repeats), labels,
                                  experiment='failovers'))
                for fault, params, condition in stress:
                    cells.append(Cell('%s-%s-%g-%s' % (name, axis.setting, value, fault),
                                      cls(config, settings),
                                      scenarios.fault(fault, PRIMARY, args.hold, params),
                                      dict(labels, condition=condition), experiment='fault'))
        plan = Plan('sweep', config, measure=cli.measure(args, settle=2.0), cells=cells,
                    trials=trials, keep_degraded=keep,
                    options={'configurations': chosen, 'repeats': args.repeats,
                             'conditions': [c for _, _, c in stress],
                             'hold_s': args.hold if stress else None,
                             'values': {c: [x.labels['setting_s'] for x in cells
                                            if x.labels['configuration'] == c
                                            and x.experiment == 'failovers'] for c in chosen},
                             'layouts': {c: {'description': known[c][2],
                                             'setting': known[c][0].sweep_axis.setting,
                                             'axis_label': known[c][0].sweep_axis.label}
                                         for c in chosen}})
    except ValueError as e:
        p.error(str(e))
    return args, plan


def point(cell, result, out):
    """A point's failovers (CSV rows) and its statistics."""
    value = cell.labels['setting_s']
    rows = []
    for i, fo in enumerate(result.analysis.get('failover_repeats', [])):
        row = dict(cell.labels, repeat=i + 1, **{k: fo.get(k) for k in FIELDS[4:10]})
        row['outage_per_setting'] = (round(fo['outage_s'] / value, 2)
                                     if fo.get('outage_s') is not None else None)
        rows.append(row)
    s = spread([r['outage_s'] for r in rows])
    # what the point's run could not vouch for (false takeovers, ...)
    problems = invariant_problems(result.analysis, cell.stack.handover_overlap_s)
    entry = dict(cell.labels, outages_s=[r['outage_s'] for r in rows], results=str(out),
                 invariant_problems=problems, median_outage_s=s['median'],
                 min_outage_s=s['min'], max_outage_s=s['max'], measured=s['measured'],
                 outage_per_setting=round(s['median'] / value, 2) if s['measured'] else None,
                 passed=s['measured'] == cell.scenario.options['repeats'] and not problems)
    stage('== %s %s=%.3g s: median outage %s s' % (cell.labels['configuration'],
                                                   cell.labels['setting'], value, s['median']))
    return entry, rows


def conditions(args, given):
    """[(fault, its parameters, what to call the condition)] the flags ask for; ValueError
    for impossible ones (before anything starts)."""
    from topo import faults
    out = []
    if args.loss is not None:
        if not 0 < args.loss <= 100:
            raise ValueError('--loss %g: the share of packets lost, in percent (0..100]'
                             % args.loss)
        out.append(('loss', {'percent': args.loss}, '%g%% loss' % args.loss))
    if args.starve is not None:
        params = {'share': args.starve, 'cycle': args.cycle}
        try:
            faults.get('starve').check_params(params)
        except ValueError as e:
            raise ValueError(str(e).replace('--share', '--starve'))
        out.append(('starve', params, 'CPU %g of every %g s' % (args.starve, args.cycle)))
    elif 'cycle' in given:
        raise ValueError('--cycle: only with --starve')
    if out and args.hold <= 0:
        raise ValueError('--hold must be positive')
    if not out and 'hold' in given:
        raise ValueError('--hold: only with --loss or --starve')
    return out


def under_stress(cell, result, out):
    """A point's hold under a condition that is no failure: did the backup take the VIP
    from a laicoz that never failed (a false takeover), for how long two owned it, what
    the client lost."""
    t = dict((result.analysis.get('fault_timelines') or [{}])[0])
    took = t.get('owner_change_s')
    false = took is not None and (t.get('cleared_s') is None or took <= t['cleared_s'])
    # the boot vouches for its count when it measured what it says (the network
    # forwarded, the condition was in place, the invariants held): a split brain that
    # did not heal within the wait fails only the recovery, and is the worst of them
    vouched = bool(result.checks) and not any(
        problems for name, problems in result.checks.items() if name != 'steps_done')
    entry = dict(cell.labels, false_takeover=false, results=str(out), passed=result.passed,
                 vouched=vouched, **{k: t.get(k) for k in STRESS_FIELDS[5:-3]})
    stage('== %s %s=%.3g s under %s: %s' % (
        cell.labels['configuration'], cell.labels['setting'], cell.labels['setting_s'],
        cell.labels['condition'], 'FALSE TAKEOVER at %s s, two owners %s s'
        % (took, t.get('dual_owner_s')) if false else 'laicoz kept the VIP'))
    return entry, [entry]


def main(argv=None):
    cli.use_system_python()
    args, plan = parse_args(argv)

    def body(out):
        matrix = Matrix(plan, out, 'points', plan.trials)
        stressed = [c for c in plan.cells if c.experiment == 'fault']
        matrix.run('points', point, 'sweep.csv', FIELDS,
                   cells=[c for c in plan.cells if c not in stressed], last=not stressed)
        if stressed:
            matrix.run('false_takeovers', under_stress, 'false_takeovers.csv', STRESS_FIELDS,
                       cells=stressed)
        s = report.load(out)
        report.sweep(s, out)
        return 0 if s['passed'] else 1
    return cli.execute(args, plan, body)


if __name__ == '__main__':
    sys.exit(main())
