#!/usr/bin/env python3
"""Failover time against failure-detection settings, for every HA layout the
stacks offer (heartbeat as in the paper, heartbeat hot standby, keepalived, ...).

For every layout and value of its stack's detection setting (heartbeat deadtime,
keepalive = deadtime/4; keepalived advert_int) the cluster is started once and
the primary director is switched off and on --repeats times; the
client-observed outage of each failover is measured as in experiments/failover.py.

  sudo python3 experiments/sweep.py
  sudo python3 experiments/sweep.py --deadtimes 1,2 --advert-ints 0.2,1 --repeats 1
"""
import csv
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments import common  # noqa: E402

FIELDS = ['configuration', 'setting', 'setting_s', 'repeat', 'outage_s', 'detected_s',
          'vip_taken_s', 'table_ready_s', 'first_ok_s', 'failed_requests', 'outage_per_setting']


def floats(text):
    try:
        values = [float(v) for v in text.split(',') if v.strip()]
    except ValueError:
        raise ValueError('expected comma-separated seconds, got %r' % text)
    if not values or min(values) <= 0:
        raise ValueError('settings must be positive seconds, got %r' % text)
    return values


def point_settings(stack_cls, changes, value):
    """The checked settings of one sweep point (ConfigError when impossible)."""
    return stack_cls.Settings().replace(**dict(changes, **stack_cls.sweep_axis.settings_for(value)))


def parse_args(argv=None):
    from experiments.scenario import Measure
    from topo import ha
    known = ha.layouts()
    p = common.base_parser(__doc__.splitlines()[0])
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
    p.add_argument('--repeats', type=int, default=3, help='failovers per point')
    p.add_argument('--probe-rate', type=float, default=20.0, help='probe requests per second')
    p.add_argument('--settle', type=float, default=2.0, help='steady probing between faults (s)')
    args = p.parse_args(argv)
    try:
        args.configs = [c for c in args.configurations.split(',') if c]
        unknown = [c for c in args.configs if c not in known]
        if unknown or not args.configs:
            raise ValueError('unknown configuration %s: choose from %s'
                             % (','.join(unknown) or "''", ', '.join(known)))
        if args.repeats < 1:
            raise ValueError('--repeats must be at least 1')
        args.measure = Measure(probe_rate=args.probe_rate, settle=args.settle)
        args.points = []
        for config in args.configs:
            cls, changes, _ = known[config]
            axis = cls.sweep_axis
            for value in floats(getattr(args, axis.flag.lstrip('-').replace('-', '_'))):
                # every point's settings are checked now, before anything starts
                args.points.append((config, cls, axis, value, point_settings(cls, changes, value)))
        args.cluster = common.cluster_config(argparse_defaults())
    except ValueError as e:
        p.error(str(e))
    return args


def argparse_defaults():
    """The cluster flags' defaults (the sweep runs the paper's cluster)."""
    p = common.base_parser('', results=False)
    common.add_cluster_args(p)
    return p.parse_args([])


def median_row(rows):
    outs = [r['outage_s'] for r in rows if r['outage_s'] is not None]
    if not outs:
        return {'median_outage_s': None, 'min_outage_s': None, 'max_outage_s': None,
                'outage_per_setting': None, 'measured': 0}
    med = statistics.median(outs)
    return {'median_outage_s': round(med, 3), 'min_outage_s': min(outs),
            'max_outage_s': max(outs), 'outage_per_setting': round(med / rows[0]['setting_s'], 2),
            'measured': len(outs)}


def sweep_point(args, cls, settings, out):
    """One point: a cluster boot and args.repeats failovers; its summary data."""
    from experiments import scenario
    run = scenario.Run(args.cluster, cls(args.cluster, settings), args.measure, out,
                       experiment='failovers')
    run.run(scenario.failovers(args.repeats), expect='failovers')
    return run.summary.data


def sweep(args, out):
    from experiments import report
    from topo import ha, sandbox
    known = ha.layouts()
    summary = common.Summary(
        out / 'summary.json', experiment='sweep', kernel_mode=sandbox.kernel_mode(),
        parameters={'configurations': args.configs, 'repeats': args.repeats,
                    'probe_rate': args.probe_rate,
                    'values': {c: [v for (pc, _, _, v, _) in args.points if pc == c]
                               for c in args.configs}},
        layouts={c: {'description': known[c][2], 'setting': known[c][0].sweep_axis.setting,
                     'axis_label': known[c][0].sweep_axis.label} for c in args.configs},
        points=[])
    f = open(out / 'sweep.csv', 'w', newline='')
    writer = csv.DictWriter(f, FIELDS)
    writer.writeheader()
    started = time.monotonic()
    try:
        for n, (config, cls, axis, value, settings) in enumerate(args.points):
            if n:
                per_point = (time.monotonic() - started) / n
                left = per_point * (len(args.points) - n)
                common.stage('== about %d min %02d s left' % divmod(int(left), 60))
            common.stage('== point %d/%d: %s, %s %.3g s, %d failovers'
                         % (n + 1, len(args.points), config, axis.setting, value, args.repeats))
            point_out = out / 'points' / ('%s-%s-%g' % (config, axis.setting, value))
            point_out.mkdir(parents=True)
            data = sweep_point(args, cls, settings, point_out)
            rows = []
            for i, fo in enumerate(data.get('failover_repeats', [])):
                row = {'configuration': config, 'setting': axis.setting, 'setting_s': value,
                       'repeat': i + 1, **{k: fo.get(k) for k in FIELDS[4:10]}}
                row['outage_per_setting'] = (round(fo['outage_s'] / value, 2)
                                             if fo.get('outage_s') is not None else None)
                writer.writerow(row)
                f.flush()
                rows.append(row)
            stats = dict(configuration=config, setting=axis.setting, setting_s=value,
                         outages_s=[r['outage_s'] for r in rows], results=str(point_out),
                         # what the point's run could not vouch for (false takeovers, ...)
                         invariant_problems=report.invariant_problems(data),
                         **median_row(rows) if rows else median_row([{'outage_s': None}]))
            summary.data['points'].append(stats)
            summary.write()
            common.stage('== %s %s=%.3g s: median outage %s s'
                         % (config, axis.setting, value, stats['median_outage_s']))
    finally:
        f.close()
    ok = all(p['measured'] == args.repeats and not p['invariant_problems']
             for p in summary.data['points'])
    summary.finish(passed=ok)
    try:
        from experiments import plot_sweep
        plot_sweep.plot(out)
    except Exception as e:
        print('plotting failed: %s' % e)
    print('\n%-12s %-11s %9s %10s %s' % ('config', 'setting', 'value (s)', 'median (s)',
                                         'outage/setting'))
    for p in summary.data['points']:
        print('%-12s %-11s %9.3g %10s %s' % (p['configuration'], p['setting'], p['setting_s'],
                                             p['median_outage_s'], p['outage_per_setting']))
    print('\n%s (%s kernel); results in %s' % ('PASS' if ok else 'FAIL: some failovers were '
                                               'not measured', summary.data['kernel_mode'], out))
    return 0 if ok else 1


def main(argv=None):
    common.use_system_python()
    args = parse_args(argv)
    # one stack object per layout is enough to check its configs (and needs) up front
    first = {}
    for config, cls, _, _, settings in args.points:
        first.setdefault(config, cls(args.cluster, settings))
    return common.run(args, ['cluster', 'plots'], 'sweep', lambda out: sweep(args, out),
                      stacks=list(first.values()))


if __name__ == '__main__':
    sys.exit(main())
