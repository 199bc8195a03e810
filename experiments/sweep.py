#!/usr/bin/env python3
"""Failover time against failure-detection settings, for three HA layouts:

  heartbeat     the paper's: heartbeat moves the VIP and ldirectord (cold backup table)
  hot-standby   heartbeat moves only the VIP; ldirectord runs on both directors
  keepalived    VRRP moves the VIP; keepalived's checker keeps IPVS on both directors

For every configuration and setting (heartbeat deadtime, keepalive = deadtime/4;
keepalived advert_int) the cluster is started once and the primary director is
switched off and on --repeats times; the client-observed outage of each
failover is measured as in experiments/failover.py.

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

common.use_system_python()

from experiments import failover  # noqa: E402

CONFIGURATIONS = {
    # name: (failover.py flags, setting flag, label of the setting)
    'heartbeat': (['--stack', 'heartbeat'], 'deadtime', 'heartbeat deadtime (s)'),
    'hot-standby': (['--stack', 'heartbeat', '--hot-standby'], 'deadtime',
                    'heartbeat deadtime (s)'),
    'keepalived': (['--stack', 'keepalived'], 'advert_int', 'VRRP advert_int (s)'),
}
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


def point_argv(config, value, args):
    """failover.py flags of one sweep point (checked like any failover.py command line)."""
    flags, setting, _ = CONFIGURATIONS[config]
    argv = flags + ['--probe-rate', str(args.probe_rate), '--settle', str(args.settle)]
    if setting == 'deadtime':
        argv += ['--deadtime', str(value), '--keepalive', str(round(value / 4, 3)),
                 '--initdead', str(max(10.0, value))]
    else:
        argv += ['--advert-int', str(value)]
    return argv


def parse_args(argv=None):
    p = common.base_parser(__doc__.splitlines()[0])
    p.add_argument('--configurations', default=','.join(CONFIGURATIONS),
                   help='which of %s' % ', '.join(CONFIGURATIONS))
    p.add_argument('--deadtimes', default='1,2,4', help='heartbeat deadtimes (s)')
    p.add_argument('--advert-ints', default='0.2,0.5,1', help='keepalived advert intervals (s)')
    p.add_argument('--repeats', type=int, default=3, help='failovers per point')
    p.add_argument('--probe-rate', type=float, default=20.0, help='probe requests per second')
    p.add_argument('--settle', type=float, default=2.0, help='steady probing between faults (s)')
    args = p.parse_args(argv)
    try:
        args.configs = [c for c in args.configurations.split(',') if c]
        unknown = [c for c in args.configs if c not in CONFIGURATIONS]
        if unknown or not args.configs:
            raise ValueError('unknown configuration %s: choose from %s'
                             % (','.join(unknown) or "''", ', '.join(CONFIGURATIONS)))
        values = {'deadtime': floats(args.deadtimes), 'advert_int': floats(args.advert_ints)}
        if args.repeats < 1:
            raise ValueError('--repeats must be at least 1')
        args.points = []
        for config in args.configs:
            setting = CONFIGURATIONS[config][1]
            for value in values[setting]:
                # every point's flags are checked now, before anything starts
                point = failover.parse_args(point_argv(config, value, args))
                args.points.append((config, setting, value, point))
    except SystemExit:
        p.error('a sweep point has impossible settings (see above)')
    except ValueError as e:
        p.error(str(e))
    return args


def median_row(rows):
    outs = [r['outage_s'] for r in rows if r['outage_s'] is not None]
    if not outs:
        return {'median_outage_s': None, 'min_outage_s': None, 'max_outage_s': None,
                'outage_per_setting': None, 'measured': 0}
    med = statistics.median(outs)
    return {'median_outage_s': round(med, 3), 'min_outage_s': min(outs),
            'max_outage_s': max(outs), 'outage_per_setting': round(med / rows[0]['setting_s'], 2),
            'measured': len(outs)}


def sweep(args, out):
    from topo import sandbox
    summary = common.Summary(out / 'summary.json', experiment='sweep',
                             kernel_mode=sandbox.kernel_mode(),
                             parameters={'configurations': args.configs,
                                         'deadtimes_s': floats(args.deadtimes),
                                         'advert_ints_s': floats(args.advert_ints),
                                         'repeats': args.repeats,
                                         'probe_rate': args.probe_rate},
                             points=[])
    f = open(out / 'sweep.csv', 'w', newline='')
    writer = csv.DictWriter(f, FIELDS)
    writer.writeheader()
    started = time.monotonic()
    try:
        for n, (config, setting, value, point_args) in enumerate(args.points):
            if n:
                per_point = (time.monotonic() - started) / n
                left = per_point * (len(args.points) - n)
                common.stage('== about %d min %02d s left' % divmod(int(left), 60))
            common.stage('== point %d/%d: %s, %s %.3g s, %d failovers'
                         % (n + 1, len(args.points), config, setting, value, args.repeats))
            name = '%s-%s-%g' % (config, setting, value)
            point_out = out / 'points' / name
            point_out.mkdir(parents=True)
            run = failover.FailoverRun(point_args, point_out)
            run.run(repeats=args.repeats)
            rows = []
            for i, fo in enumerate(run.summary.data.get('failover_repeats', [])):
                row = {'configuration': config, 'setting': setting, 'setting_s': value,
                       'repeat': i + 1, **{k: fo.get(k) for k in FIELDS[4:10]}}
                row['outage_per_setting'] = (round(fo['outage_s'] / value, 2)
                                             if fo.get('outage_s') is not None else None)
                writer.writerow(row)
                f.flush()
                rows.append(row)
            stats = dict(configuration=config, setting=setting, setting_s=value,
                         outages_s=[r['outage_s'] for r in rows], results=str(point_out),
                         **median_row(rows) if rows else median_row([{'outage_s': None}]))
            summary.data['points'].append(stats)
            summary.write()
            common.stage('== %s %s=%.3g s: median outage %s s'
                         % (config, setting, value, stats['median_outage_s']))
    finally:
        f.close()
    ok = all(p['measured'] == args.repeats for p in summary.data['points'])
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
    args = parse_args(argv)
    needs = [n for c in args.configs for n in
             __import__('topo.stacks', fromlist=['get']).get(
                 CONFIGURATIONS[c][0][1]).needs]
    return common.run(args, ['cluster', 'plots'], 'sweep', lambda out: sweep(args, out),
                      needs=needs)


if __name__ == '__main__':
    sys.exit(main())
