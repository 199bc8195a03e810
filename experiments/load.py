#!/usr/bin/env python3
"""Thousands of simultaneous requests, the paper's future work: a ramp of h2load
clients through the VIP and straight to one real server (the same run's
baseline), load across a director failover, IPVS connection sync, the paper's
2003 hardware and scale-out.

  sudo python3 experiments/load.py                          # ramp: 10,100,1000,5000 clients
  sudo python3 experiments/load.py --concurrency 10,100 --requests 1000
  sudo python3 experiments/load.py --failover               # 1000 clients, laicoz off and on
  sudo python3 experiments/load.py --conn-sync --stack keepalived
  sudo python3 experiments/load.py --hardware 2003          # the ramp on Table 1's machines
  sudo python3 experiments/load.py --scale 1,2,3,4,6        # throughput vs real servers (2003)
"""
import csv
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments import common  # noqa: E402

LEVEL_FIELDS = ['target', 'concurrency', 'requests', 'ok', 'failed', 'errors', 'rps', 'p50_s',
                'p90_s', 'p99_s', 'max_s', 'answers', 'servers']
# --page: (path, request headers, what it is)
PAGES = {'light': ('/', (), 'the page naming the server, a few bytes (the paper\'s page)'),
         'cgi': ('/work.html', ('Accept-Encoding: gzip',),
                 'a page the server compresses per request (1 MB in, 1.5 kB out, ~3 ms of '
                 'CPU natively): server work a CPU cap can see, as a 2003 dynamic page')}
SERIES_FIELDS = ['layout', 't', 'ok', 'failed', 'p50_s', 'p99_s', 'max_s', 'open']


def int_list(text, flag):
    try:
        values = [int(v) for v in text.split(',') if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise ValueError('%s: positive whole numbers separated by commas, got %r' % (flag, text))
    return values


def parse_args(argv=None):
    from experiments.scenario import Measure
    from topo import ha
    from topo.network import hardware
    from topo.network.config import ConfigError
    p = common.base_parser(__doc__.splitlines()[0])
    m = p.add_argument_group('what to measure (default: the ramp)')
    x = m.add_mutually_exclusive_group()
    x.add_argument('--failover', action='store_true',
                   help='sustained load while laicoz is switched off and on, per HA layout')
    x.add_argument('--conn-sync', action='store_true',
                   help='long-lived sessions across a failover, IPVS sync daemon off then on')
    x.add_argument('--scale', metavar='LIST',
                   help='throughput through the VIP with each number of real servers')
    m.add_argument('--hardware', choices=sorted(hardware.PROFILES),
                   help='emulate this hardware: %s' % '; '.join(
                       '%s: %s' % (k, v.description) for k, v in hardware.PROFILES.items()))
    r = p.add_argument_group('ramp and scale')
    r.add_argument('--concurrency', default='10,100,1000,5000', metavar='LIST',
                   help='simultaneous clients of each ramp level (scale: the first one)')
    r.add_argument('--requests', type=int, metavar='N',
                   help='requests per level (default: 10 x concurrency, at least 1000)')
    r.add_argument('--page', choices=sorted(PAGES),
                   help='; '.join('%s: %s' % (k, v[2]) for k, v in sorted(PAGES.items())) +
                        ' (default: light for the ramp, cgi for --scale)')
    f = p.add_argument_group('failover and conn-sync')
    f.add_argument('--clients', type=int, default=1000,
                   help='--failover: simultaneous clients, one connection per request')
    f.add_argument('--layouts', default=','.join(ha.layouts()),
                   help='--failover: HA layouts, of %s' % ', '.join(ha.layouts()))
    f.add_argument('--sessions', type=int, default=500,
                   help='--conn-sync: long-lived connections through the VIP')
    f.add_argument('--interval', type=float, default=0.2, metavar='S',
                   help='--conn-sync: seconds between two requests of a session')
    f.add_argument('--hold', type=float, default=20.0, metavar='S',
                   help='seconds of load after the takeover (and after the failback)')
    f.add_argument('--stack', default='heartbeat', choices=sorted(ha.load()),
                   help='--conn-sync: HA stack on the two directors')
    common.add_cluster_args(p)
    ha.add_arguments(p)
    args = p.parse_args(argv)
    try:
        args.levels = int_list(args.concurrency, '--concurrency')
        if args.requests is not None and args.requests < max(args.levels):
            raise ConfigError('--requests %d is less than the concurrency %d: each client sends '
                              'at least one request' % (args.requests, max(args.levels)))
        args.scales = int_list(args.scale, '--scale') if args.scale else None
        if args.scales:
            if 1 not in args.scales:
                raise ConfigError('--scale must include 1: efficiency is relative to one server')
            args.servers = max(args.scales)
        args.profile = hardware.get(args.hardware) if args.hardware else None
        if args.scales and not args.profile:
            args.profile = hardware.get('2003')      # scale-out is measured on the paper's PCs
        args.page = args.page or ('cgi' if args.scales else 'light')
        args.config = common.cluster_config(args)
        if min(args.clients, args.sessions) < 1 or args.interval <= 0 or args.hold <= 0:
            raise ConfigError('--clients, --sessions, --interval and --hold must be positive')
        if args.failover:
            known = ha.layouts()
            args.layout_list = [n for n in args.layouts.split(',') if n]
            bad = [n for n in args.layout_list if n not in known]
            if bad or not args.layout_list:
                raise ConfigError('unknown layout %s: choose of %s'
                                  % (', '.join(bad) or '(none)', ', '.join(known)))
        given = ha.given_flags(args)
        if args.conn_sync:
            if getattr(args, 'sync_daemon', None):
                raise ConfigError('--conn-sync runs with the sync daemon off and on: leave out '
                                  '--sync-daemon')
            args.settings = ha.settings_from_args(args.stack, args)
        elif given:
            raise ConfigError('%s: HA settings apply to --conn-sync only (--failover runs '
                              'every layout with its own; the ramp and --scale use a static '
                              'IPVS service)' % ', '.join(given))
        args.measure = Measure(wait=120.0)
    except ValueError as e:
        p.error(str(e))
    return args


def requests_for(args, clients):
    return args.requests or max(1000, 10 * clients)


# -- ramp and scale: h2load against a static IPVS service ------------------------------
def h2load_level(cluster, url, clients, requests, servers, scratch, keep=None, headers=()):
    """One h2load run from the client; the level's numbers (topo/agents/h2load.py).
    keep: where h2load's own report is saved."""
    import subprocess
    from topo.agents import h2load
    from topo.network.webserver import raise_limits
    from topo.stats import percentile
    log = scratch / ('h2load-%d.log' % time.monotonic_ns())
    before = {s.name: s.nginx.answered() for s in servers}
    proc = cluster.client.popen(h2load.command(url, clients, requests, log, headers=headers),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True, preexec_fn=raise_limits)
    try:
        out, _ = proc.communicate(timeout=1800)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise RuntimeError('h2load did not finish within 30 min (%d clients)' % clients)
    if keep:
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.write_text(out)
    summary = h2load.parse_summary(out)
    rows = h2load.parse_log(log.read_text()) if log.exists() else []
    log.unlink(missing_ok=True)
    ok = summary['status'].get('2xx', summary['succeeded'])
    # nginx flushes its access log buffer each second: wait until every answer is in
    end = time.monotonic() + 5
    while True:
        answers = {s.name: s.nginx.answered() - before[s.name] for s in servers}
        if sum(answers.values()) >= ok or time.monotonic() > end:
            break
        time.sleep(0.1)
    lat = sorted(d for _, status, d in rows if 200 <= status < 300)
    r = lambda v: None if v is None else round(v, 4)
    return {'concurrency': clients, 'requests': requests, 'ok': ok, 'failed': requests - ok,
            'errors': h2load.errors_by_kind(summary),
            'rps': round(ok / summary['elapsed_s'], 1) if summary['elapsed_s'] else 0.0,
            'elapsed_s': round(summary['elapsed_s'], 2),
            'p50_s': r(percentile(lat, 50)), 'p90_s': r(percentile(lat, 90)),
            'p99_s': r(percentile(lat, 99)), 'max_s': r(lat[-1] if lat else None),
            'answers': {k: v for k, v in answers.items() if v}}


class StaticCluster:
    """The cluster with a static IPVS service on laicoz (what ldirectord would build):
    the ramp measures IPVS and the servers, not an HA stack's daemons."""

    def __init__(self, args, out, summary):
        self.args, self.out, self.summary = args, out, summary

    def __enter__(self):
        from topo.network.cluster import Cluster
        self.cluster = Cluster(self.args.config, log=common.stage, log_dir=self.out,
                               hardware=self.args.profile)
        self.cluster.__enter__()
        try:
            d = self.cluster.director()
            d.install_service(self.args.config)
            d.add_vip(self.args.config.vip)
            self.check('before the load')
        except BaseException:
            self.cluster.__exit__(None, None, None)
            raise
        return self.cluster

    def __exit__(self, *exc):
        return self.cluster.__exit__(*exc)

    def check(self, when):
        return static_check(self.cluster, self.summary, when)


def static_check(cluster, summary, when, servers=None):
    """The invariants of a static run: laicoz alone holds the VIP, its table complete."""
    config = cluster.config
    want = {'%s:%d' % (config.addresses[s], config.port) for s in
            (servers or config.real_servers)}
    have = {r['address'] for svc in cluster.director().table() for r in svc['real_servers']}
    problems = []
    if have != want:
        problems.append('table of laicoz %s: %s, expected %s' % (when, sorted(have), sorted(want)))
    owners = [d.name for d in cluster.directors if d.holds(config.vip)]
    if owners != ['laicoz']:
        problems.append('VIP owners %s: %s' % (when, owners or 'none'))
    for p in problems:
        summary.data['failures'].append(p)
        common.stage('FAILED: ' + p)
    summary.write()
    return not problems


def keep_web_logs(cluster, out):
    """The real servers' nginx error logs (why a connection was refused, if it was)."""
    import shutil
    for server in cluster.real_servers:
        if server.nginx.error_log.exists():
            dst = out / 'logs' / server.name
            dst.mkdir(parents=True, exist_ok=True)
            shutil.copy2(server.nginx.error_log, dst / 'nginx-error.log')


def hardware_report(cluster, profile):
    """What the profile's caps really deliver: link rate and CPU shares, measured."""
    common.stage('hardware %s: measuring what the caps deliver' % profile.name)
    got = {'profile': profile.as_dict(),
           'link_mbit_measured': cluster.measure_link(),
           'director_cpu_measured': cluster.limits.measure_cpu('director'),
           'server_cpu_measured': cluster.limits.measure_cpu('server')}
    common.stage('link %.2f Mbit/s (asked %g); CPU share director %.3f (asked %.3f), real '
                 'server %.3f (asked %.3f)' % (
                     got['link_mbit_measured'], profile.link_mbit, got['director_cpu_measured'],
                     profile.cpu_share('director'), got['server_cpu_measured'],
                     profile.cpu_share('server')))
    return got


def ramp(args, out, summary):
    levels = []
    with open(out / 'load.csv', 'w', newline='') as f, StaticCluster(args, out, summary) as cl:
        writer = csv.DictWriter(f, LEVEL_FIELDS, extrasaction='ignore')
        writer.writeheader()
        if args.profile:
            summary.update(hardware=hardware_report(cl, args.profile))
        scratch = cl.workdir        # h2load's logs: removed with the cluster
        first = cl.real_servers[0]
        path, headers, _ = PAGES[args.page]
        targets = [('vip', cl.url(path), cl.real_servers),
                   ('direct', 'http://%s:%d%s' % (first.IP(), args.config.port, path), [first])]
        for clients in args.levels:
            for target, url, servers in targets:
                n = requests_for(args, clients)
                common.stage('%s: %d requests from %d simultaneous clients (%s)'
                             % (target, n, clients, url))
                level = dict(h2load_level(cl, url, clients, n, servers, scratch,
                                          out / 'h2load' / ('%s-%d.txt' % (target, clients)),
                                          headers),
                             target=target, servers=len(cl.real_servers))
                levels.append(level)
                writer.writerow(dict(level, errors=_kinds(level['errors']),
                                     answers=_kinds(level['answers'])))
                f.flush()
                summary.update(levels=levels)
                common.stage('  %d ok, %d failed %s, %.0f req/s, p50 %s s, p99 %s s, answers %s'
                             % (level['ok'], level['failed'], level['errors'] or '',
                                level['rps'], level['p50_s'], level['p99_s'], level['answers']))
        ok = static_check(cl, summary, 'after the load')
        keep_web_logs(cl, out)
        if cl.limits:
            summary.update(cgroup_usage=cl.limits.usage())
    summary.update(goals=ramp_goals(levels))
    return ok


def _kinds(d):
    return ' '.join('%s=%s' % kv for kv in sorted(d.items()))


def ramp_goals(levels):
    """The issue's goals, each with its numbers: VIP vs direct per level."""
    by = {(lv['target'], lv['concurrency']): lv for lv in levels}
    goals = []
    for c in sorted({lv['concurrency'] for lv in levels}):
        vip, direct = by.get(('vip', c)), by.get(('direct', c))
        if not vip or not direct:
            continue
        ratio = round(vip['rps'] / direct['rps'], 3) if direct['rps'] else None
        p99 = round(vip['p99_s'] / direct['p99_s'], 3) if vip['p99_s'] and direct['p99_s'] \
            else None
        goals.append({'concurrency': c, 'vip_failed': vip['failed'],
                      'direct_failed': direct['failed'],
                      'no_extra_failures': vip['failed'] <= direct['failed'],
                      'zero_failed': vip['failed'] == 0,
                      'throughput_ratio': ratio,
                      'throughput_ok': ratio is not None and ratio >= 0.9,
                      'p99_ratio': p99, 'p99_ok': p99 is not None and p99 <= 1.2})
    return goals


def scale(args, out, summary):
    """One boot with the most real servers; the IPVS service rebuilt with the first N."""
    from topo.network.config import ClusterConfig
    from topo.stats import scaling_efficiency
    clients = args.levels[0]
    rows = []
    ok = True
    with open(out / 'load.csv', 'w', newline='') as f, StaticCluster(args, out, summary) as cl:
        writer = csv.DictWriter(f, LEVEL_FIELDS, extrasaction='ignore')
        writer.writeheader()
        summary.update(hardware=hardware_report(cl, args.profile))
        scratch = cl.workdir
        for n in sorted(args.scales):
            sub = ClusterConfig(servers=n, scheduler=args.config.scheduler, vip=args.config.vip,
                                subnet=args.config.subnet)
            cl.director().install_service(sub)
            servers = cl.real_servers[:n]
            ok = static_check(cl, summary, 'with %d real servers' % n, sub.real_servers) and ok
            requests = requests_for(args, clients)
            common.stage('%d real server(s): %d requests from %d clients' % (n, requests, clients))
            path, headers, _ = PAGES[args.page]
            level = dict(h2load_level(cl, cl.url(path), clients, requests, servers, scratch,
                                      out / 'h2load' / ('servers-%d.txt' % n), headers),
                         target='vip', servers=n)
            rows.append(level)
            writer.writerow(dict(level, errors=_kinds(level['errors']),
                                 answers=_kinds(level['answers'])))
            f.flush()
            summary.update(scale=rows)
            common.stage('  %.0f req/s, %d failed, answers %s' % (level['rps'], level['failed'],
                                                                 level['answers']))
        summary.update(cgroup_usage=cl.limits.usage())
        keep_web_logs(cl, out)
    eff = scaling_efficiency({r['servers']: r['rps'] for r in rows})
    summary.update(scaling_efficiency={str(k): v for k, v in eff.items()},
                   goals=[{'servers': n, 'efficiency': e, 'ok': e >= 0.8}
                          for n, e in eff.items() if n <= 3])
    return ok


# -- failover and conn-sync: an HA cluster with load ------------------------------------
def load_series(events):
    return [e for e in events if e['kind'] == 'load' and e.get('node') == 'load']


def layout_stack(args, layout):
    from topo import ha
    cls, changes, _ = ha.layouts()[layout]
    return cls(args.config, cls.Settings().replace(**changes))


def failover_cell(args, layout, out):
    """One HA layout: load on, laicoz off, takeover, laicoz on, failback, load off."""
    from experiments import scenario as s
    from topo.network.config import PRIMARY
    run = s.Run(args.config, layout_stack(args, layout), args.measure, out,
                experiment='load-failover')
    steps = s.CLUSTER_UP + [
        s.StartProber(), s.StartLoad(args.clients), s.Hold(5),
        s.Say('switching laicoz off under load'), s.Inject('power-off', PRIMARY),
        s.WaitTakeover(), s.Hold(args.hold), s.Say('switching laicoz on under load'),
        s.Clear(PRIMARY), s.WaitSettled(), s.Hold(args.hold), s.StopLoad()]
    status = run.run(steps, expect='failovers')
    series = load_series(run.rec.events)
    t_off, t_on = (run.faults[0]['injected'], run.faults[0]['cleared']) if run.faults \
        else (None, None)

    def failed(t0, t1):
        return sum(sum(e['failed'].values()) for e in series
                   if t0 is not None and t0 <= e['t'] + 1 and (t1 is None or e['t'] < t1))
    done = run.summary.data.get('load_done', {})
    cell = {'layout': layout, 'clients': args.clients, 'passed': status == 0,
            'answered': done.get('ok'), 'failed': done.get('failed'),
            'failed_at_power_off': failed(t_off, t_on), 'failed_at_power_on': failed(t_on, None),
            'outage_s': (run.summary.data.get('failover') or {}).get('outage_s'),
            'loadgen_cpu_s': done.get('cpu_s'), 'loadgen_elapsed_s': done.get('elapsed_s'),
            'prober_cpu_s': _prober_cpu(run.rec.events), 'power_off': t_off, 'power_on': t_on,
            'results': str(out)}
    return cell, series


def _prober_cpu(events):
    done = [e for e in events if e['kind'] == 'done' and e.get('node') == 'client']
    return done[-1]['cpu_s'] if done else None


def failover(args, out, summary):
    cells = []
    with open(out / 'load_failover.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, SERIES_FIELDS, extrasaction='ignore')
        writer.writeheader()
        for layout in args.layout_list:
            common.stage('== failover under load: %s' % layout)
            cell_out = out / 'cells' / layout
            cell_out.mkdir(parents=True)
            cell, series = failover_cell(args, layout, cell_out)
            for e in series:
                writer.writerow(dict(e, layout=layout, failed=sum(e['failed'].values())))
            f.flush()
            cells.append(cell)
            summary.update(failover_under_load=cells)
            common.stage('== %s: %s answered, %d failed at the power-off, %d at the power-on'
                         % (layout, cell['answered'], cell['failed_at_power_off'],
                            cell['failed_at_power_on']))
    return all(c['passed'] for c in cells)


def conn_sync(args, out, summary):
    """The same failover twice, sync daemon off then on; sessions that carried on."""
    from experiments import scenario as s
    from topo import ha
    from topo.network.config import BACKUP, PRIMARY
    # named as the layouts of the other experiments (topo.ha.layouts())
    layout = 'hot-standby' if getattr(args.settings, 'hot_standby', False) else args.stack
    result = {}
    ok = True
    for sync in (False, True):
        name = 'on' if sync else 'off'
        common.stage('== %s, IPVS sync daemon %s: %d sessions across a failover'
                     % (layout, name, args.sessions))
        cell_out = out / 'cells' / ('sync-%s' % name)
        cell_out.mkdir(parents=True)
        stack = ha.get(args.stack)(args.config, args.settings.replace(sync_daemon=sync))
        run = s.Run(args.config, stack, args.measure, cell_out, experiment='conn-sync')
        steps = s.CLUSTER_UP + [
            s.StartProber(),
            s.StartLoad(args.sessions, keepalive=True, interval=args.interval, timeout=60.0),
            s.Hold(5),                  # sync: at the 3rd packet, buffers flushed within 2 s
            s.CountConnections(PRIMARY), s.CountConnections(BACKUP),
            s.Say('switching laicoz off'), s.Inject('power-off', PRIMARY), s.WaitTakeover(),
            s.Hold(args.hold), s.StopLoad(), s.Clear(PRIMARY), s.WaitSettled()]
        status = run.run(steps, expect='failovers')
        ok = ok and status == 0
        done = run.summary.data.get('load_done') or {}
        t_fault = run.faults[0]['injected'] if run.faults else None
        carried = sum(1 for t in done.get('unbroken_last_ok', []) if t_fault and t > t_fault)
        entries = run.summary.data.get('connection_entries', {})
        result[name] = {'total': done.get('sessions', args.sessions), 'survived': carried,
                        'unbroken': done.get('unbroken'), 'broken': done.get('failed'),
                        'backup_entries_before': entries.get(BACKUP, {}),
                        'primary_entries_before': entries.get(PRIMARY, {}),
                        'outage_s': (run.summary.data.get('failover') or {}).get('outage_s'),
                        'passed': status == 0, 'results': str(cell_out)}
        summary.update(conn_sync={layout: result})
        common.stage('== sync %s: %d of %d sessions carried on through the failover'
                     % (name, carried, result[name]['total']))
    return ok


def body(args, out):
    from topo import sandbox
    mode = 'failover' if args.failover else 'conn-sync' if args.conn_sync else \
        'scale' if args.scales else 'ramp'
    summary = common.Summary(
        out / 'summary.json', experiment='load', mode=mode, kernel_mode=sandbox.kernel_mode(),
        kernel_release=os.uname().release,
        parameters=dict(args.config.as_dict(), concurrency=args.levels, requests=args.requests,
                        hardware=args.hardware or (args.profile.name if args.profile else None),
                        clients=args.clients, sessions=args.sessions, interval_s=args.interval,
                        hold_s=args.hold, scale=args.scales, page=args.page),
        failures=[])
    common.stage('load experiment: %s (%s kernel)' % (mode, summary.data['kernel_mode']))
    runner = {'ramp': ramp, 'scale': scale, 'failover': failover, 'conn-sync': conn_sync}[mode]
    ok = runner(args, out, summary) and not summary.data.get('failures')
    summary.finish(passed=ok)
    try:
        from experiments import plot_load
        written = plot_load.plot(out)
        common.stage('plots: %s' % ', '.join(str(out / w) for w in written))
    except Exception as e:      # the data stand without the figure
        common.stage('plotting failed: %s: %s' % (type(e).__name__, e))
    report(summary.data, out)
    return 0 if ok else 1


def report(s, out):
    if s.get('levels'):
        print('\n%-7s %8s %9s %7s %7s %9s %8s %8s %8s' % (
            'target', 'clients', 'requests', 'ok', 'failed', 'req/s', 'p50 s', 'p99 s', 'max s'))
        for lv in s['levels']:
            print('%-7s %8d %9d %7d %7d %9.0f %8s %8s %8s' % (
                lv['target'], lv['concurrency'], lv['requests'], lv['ok'], lv['failed'],
                lv['rps'], lv['p50_s'], lv['p99_s'], lv['max_s']))
        for g in s.get('goals', []):
            print('%5d clients: VIP/direct throughput %s (goal >= 0.9: %s), p99 ratio %s '
                  '(goal <= 1.2: %s), failed %d vip / %d direct' % (
                      g['concurrency'], g['throughput_ratio'], _yes(g['throughput_ok']),
                      g['p99_ratio'], _yes(g['p99_ok']), g['vip_failed'], g['direct_failed']))
    if s.get('scale'):
        for r in s['scale']:
            print('%d real server(s): %.0f req/s, efficiency %s' % (
                r['servers'], r['rps'], s.get('scaling_efficiency', {}).get(str(r['servers']))))
    for c in s.get('failover_under_load', []):
        print('%-12s %s answered, failed %d at the power-off and %d at the power-on (outage '
              '%s s)' % (c['layout'], c['answered'], c['failed_at_power_off'],
                         c['failed_at_power_on'], c['outage_s']))
    for layout, r in s.get('conn_sync', {}).items():
        for k in ('off', 'on'):
            if k in r:
                print('%s, sync %-3s: %d of %d sessions carried on (backup had %s entries)'
                      % (layout, k, r[k]['survived'], r[k]['total'],
                         sum(r[k]['backup_entries_before'].values())))
    hw = s.get('hardware')
    if hw:
        print('hardware %s: link %s Mbit/s measured; CPU director %s, real server %s'
              % (hw['profile']['name'], hw['link_mbit_measured'], hw['director_cpu_measured'],
                 hw['server_cpu_measured']))
    for f in s.get('failures', []):
        print('FAILED: %s' % f)
    print('\n%s (%s kernel); results in %s' % ('PASS' if s.get('passed') else 'FAIL',
                                               s['kernel_mode'], out))


def _yes(v):
    return 'met' if v else 'NOT met'


def main(argv=None):
    common.use_system_python()
    args = parse_args(argv)
    from topo import ha
    stacks = []     # their configs are judged by their own daemons before anything starts
    if args.conn_sync:
        stacks = [ha.get(args.stack)(args.config, args.settings.replace(sync_daemon=True))]
    elif args.failover:
        stacks = [layout_stack(args, name) for name in args.layout_list]
    needs = [('cmd', 'h2load', 'nghttp2-client'), ('cmd', 'nginx', 'nginx-light'),
             ('cmd', 'curl', 'curl')]
    return common.run(args, ['cluster', 'plots'], 'load', lambda out: body(args, out),
                      stacks=stacks, needs=needs)


if __name__ == '__main__':
    sys.exit(main())
