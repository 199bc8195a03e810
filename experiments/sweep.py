#!/usr/bin/env python3
"""Failover time against failure-detection settings, for every HA layout the
stacks offer (heartbeat as in the paper, heartbeat hot standby, keepalived, ...).

For every layout and value of its stack's detection setting (heartbeat deadtime,
keepalive = deadtime/4; keepalived advert_int) the cluster is started once and
the primary director is switched off and on --repeats times; the
client-observed outage of each failover is measured as in experiments/failover.py.

  sudo python3 experiments/sweep.py
  sudo python3 experiments/sweep.py --deadtimes 1,2 --advert-ints 0.2,1 --repeats 1
  sudo python3 experiments/sweep.py --trials 5      # five boots per point: medians and spreads
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
from topo.network.config import ClusterConfig  # noqa: E402
from topo.stats import spread  # noqa: E402

FIELDS = ['configuration', 'setting', 'setting_s', 'repeat', 'outage_s', 'detected_s',
          'vip_taken_s', 'table_ready_s', 'first_ok_s', 'failed_requests', 'outage_per_setting']


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
        trials, keep = cli.trials(args)
        config = ClusterConfig()        # the sweep runs the paper's cluster
        cells = []
        for name in chosen:
            cls, changes, _ = known[name]
            axis = cls.sweep_axis
            for value in cli.numbers(getattr(args, axis.flag.lstrip('-').replace('-', '_')),
                                      axis.flag, float):
                # every point's settings are checked now, before anything starts
                settings = cls.Settings().replace(**dict(changes, **axis.settings_for(value)))
                cells.append(Cell('%s-%s-%g' % (name, axis.setting, value), cls(config, settings),
                                  scenarios.failovers(args.repeats),
                                  {'configuration': name, 'setting': axis.setting,
                                   'setting_s': value}, experiment='failovers'))
        plan = Plan('sweep', config, measure=cli.measure(args, settle=2.0), cells=cells,
                    trials=trials, keep_degraded=keep,
                    options={'configurations': chosen, 'repeats': args.repeats,
                             'values': {c: [x.labels['setting_s'] for x in cells
                                            if x.labels['configuration'] == c] for c in chosen},
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


def main(argv=None):
    cli.use_system_python()
    args, plan = parse_args(argv)

    def body(out):
        Matrix(plan, out, 'points', plan.trials).run('points', point, 'sweep.csv', FIELDS)
        s = report.load(out)
        report.sweep(s, out)
        return 0 if s['passed'] else 1
    return cli.execute(args, plan, body)


if __name__ == '__main__':
    sys.exit(main())
