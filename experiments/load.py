#!/usr/bin/env python3
"""Thousands of simultaneous requests, the paper's future work: a ramp of clients
through the VIP and straight to one real server (the same run's baseline), each
level keep-alive (h2load) and with a connection per request (the load generator,
from 1,000 client addresses); load across a director failover, IPVS connection
sync against consistent hashing, the paper's 2003 hardware and scale-out.

  sudo python3 experiments/load.py                          # ramp: 10,100,1000,5000 clients
  sudo python3 experiments/load.py --patterns close --concurrency 1000,1000,1000 --requests 10000
  sudo python3 experiments/load.py --patterns close --client-addresses 1   # one address
  sudo python3 experiments/load.py --concurrency 10,100 --requests 1000
  sudo python3 experiments/load.py --failover               # 1000 clients, laicoz off and on
  sudo python3 experiments/load.py --conn-sync --stack keepalived   # every way (--ways)
  sudo python3 experiments/load.py --conn-sync --stack keepalived --ways none,mh --fault stop
  sudo python3 experiments/load.py --conn-sync --stack keepalived --ways sync,sh,mh --change remove
  sudo python3 experiments/load.py --hardware 2003          # the ramp on Table 1's machines
  sudo python3 experiments/load.py --scale 1,2,3,4,6        # throughput vs real servers (2003)
  sudo python3 experiments/load.py --trials 5               # any of them five times: spreads
"""
import sys
from pathlib import Path

if __name__ == '__main__':      # run as a file: its folder holds scripts, the package is one up
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from topo import ha  # noqa: E402
from topo.analysis import report  # noqa: E402
from topo.analysis.load import (DEFAULT_WAYS, SERIES_FIELDS, WAYS, conn_sync_cell,  # noqa: E402
                                failover_cell, load_numbers)
from topo.engine import cli, scenarios  # noqa: E402
from topo.engine.matrix import Cell, Matrix, trials  # noqa: E402
from topo.engine.run import Plan, Run  # noqa: E402
from topo.engine.steps.maintenance import CHANGES  # noqa: E402
from topo.engine.steps.ramp import PAGES, PATTERNS  # noqa: E402
from topo.network import hardware  # noqa: E402

HA_MODES = ('failover', 'conn-sync')
CONN_FAULTS = ('power-off', 'crash', 'stop')     # how laicoz goes in --conn-sync
CONCURRENCY = '10,100,1000,5000'
CLIENT_ADDRESSES = 1000
RULES = {       # every flag takes effect: where each applies
    'concurrency': (('ramp', 'scale'), 'the ramp and --scale'),
    'requests': (('ramp', 'scale'), 'the ramp and --scale'),
    'page': (('ramp', 'scale'), 'the ramp and --scale'),
    'patterns': (('ramp',), 'the ramp'), 'conntrack_max': (('ramp',), 'the ramp'),
    'servers': (('ramp',) + HA_MODES, 'the ramp, --failover and --conn-sync (--scale sets it)'),
    'clients': (('failover',), '--failover'), 'layouts': (('failover',), '--failover'),
    'sessions': (('conn-sync',), '--conn-sync'), 'interval': (('conn-sync',), '--conn-sync'),
    'ways': (('conn-sync',), '--conn-sync'), 'fault': (('conn-sync',), '--conn-sync'),
    'change': (('conn-sync',), '--conn-sync'), 'change_server': (('conn-sync',), '--conn-sync'),
    'stack': (('conn-sync',), '--conn-sync'),
    'hold': (HA_MODES, '--failover and --conn-sync'),
    'active_active': (('ramp',), 'the ramp (--conn-sync: --ways active-active)'),
    'crossover': (HA_MODES, '--failover and --conn-sync (the others run no HA stack)')}


def parse_args(argv=None):
    p = cli.base_parser(__doc__.splitlines()[0])
    m = p.add_argument_group('what to measure (default: the ramp)')
    x = m.add_mutually_exclusive_group()
    x.add_argument('--failover', action='store_true',
                   help='sustained load while laicoz is switched off and on, per HA layout')
    x.add_argument('--conn-sync', action='store_true',
                   help='long-lived sessions across a failover, each way a connection '
                        'may outlive its director (--ways)')
    x.add_argument('--scale', metavar='LIST',
                   help='throughput through the VIP with each number of real servers')
    m.add_argument('--hardware', choices=sorted(hardware.PROFILES),
                   help='emulate this hardware: %s' % '; '.join(
                       '%s: %s' % (k, v.description) for k, v in hardware.PROFILES.items()))
    r = p.add_argument_group('ramp and scale')
    r.add_argument('--concurrency', default=CONCURRENCY, metavar='LIST',
                   help='simultaneous clients of each ramp level (scale: the first one)')
    r.add_argument('--requests', type=int, metavar='N',
                   help='requests per level (default: 10 x concurrency, at least 1000)')
    r.add_argument('--patterns', default=','.join(PATTERNS), metavar='LIST',
                   help='the ramp\'s patterns, of keepalive (h2load: HTTP/1.1 keep-alive, '
                        'one connection per client) and close (a connection per request, '
                        'as browsers of 2003: IPVS schedules every request)')
    r.add_argument('--conntrack-max', type=cli.positive(int), metavar='N',
                   help='reproduce the lost SYNs: the sandbox kernel\'s connection-tracking '
                        'table at N entries per namespace (UML\'s own default for 1 GB is '
                        '8192; the testbed gives it 262144, as a native host); uml mode only')
    r.add_argument('--page', choices=sorted(PAGES),
                   help='; '.join('%s: %s' % (k, v[2]) for k, v in sorted(PAGES.items())) +
                        ' (default: light for the ramp, cgi for --scale)')
    f = p.add_argument_group('failover and conn-sync')
    f.add_argument('--clients', type=cli.positive(int), default=1000,
                   help='--failover: simultaneous clients, one connection per request')
    f.add_argument('--layouts', default=','.join(ha.layouts()),
                   help='--failover: HA layouts, of %s' % ', '.join(ha.layouts()))
    f.add_argument('--sessions', type=cli.positive(int), default=500,
                   help='--conn-sync: long-lived connections through the VIP')
    f.add_argument('--interval', type=cli.positive(float), default=0.2, metavar='S',
                   help='--conn-sync: seconds between two requests of a session')
    f.add_argument('--fault', default='power-off', choices=CONN_FAULTS,
                   help='--conn-sync: how laicoz goes: power-off (the paper\'s), crash (its HA '
                        'daemons killed, VIP and IPVS table left in its kernel), stop (its HA '
                        'stack stopped gracefully: a planned hand-over)')
    f.add_argument('--change', choices=list(CHANGES),
                   help='--conn-sync: a real server\'s place in the service changed under the '
                        'sessions, before the failover: %s' % '; '.join(
                            '%s: %s' % kv for kv in CHANGES.items()))
    f.add_argument('--change-server', metavar='NAME',
                   help='--conn-sync --change: which real server (default: the second, laico3)')
    f.add_argument('--ways', default=','.join(DEFAULT_WAYS), metavar='LIST',
                   help='--conn-sync: the ways, one cluster each: %s' % '; '.join(
                       '%s: %s' % (k, v.description) for k, v in WAYS.items()))
    f.add_argument('--hold', type=cli.positive(float), default=20.0, metavar='S',
                   help='seconds of load after the takeover (and after the failback)')
    f.add_argument('--stack', default='heartbeat', choices=ha.stack_names(),
                   help='--conn-sync: HA stack on the two directors')
    p.add_argument('--client-addresses', type=int, metavar='N',
                   help='addresses the client host opens its connections from, as many '
                        'users on the Internet (1: its own address only, with that '
                        'case\'s own artefacts); the load generator\'s connections take '
                        'them in turn, h2load\'s (keep-alive, --scale) all come from one '
                        '(default: %d; with --target, the inventory\'s client_addresses)'
                        % CLIENT_ADDRESSES)
    cli.add_cluster_args(p, active_active=True)
    cli.add_trials_arg(p)
    ha.add_arguments(p)
    args = p.parse_args(argv)
    mode = 'failover' if args.failover else 'conn-sync' if args.conn_sync else \
        'scale' if args.scale else 'ramp'
    cli.refuse(p, cli.given(p, argv), mode, RULES)
    try:
        return args, plan(args, mode)
    except ValueError as e:
        p.error(str(e))


def plan(args, mode):
    n, keep = cli.trials(args)
    levels = cli.numbers(args.concurrency, '--concurrency')
    if args.requests is not None and args.requests < max(levels):
        raise ValueError('--requests %d is less than the concurrency %d: each client sends '
                         'at least one request' % (args.requests, max(levels)))
    scales = cli.numbers(args.scale, '--scale') if args.scale else None
    if scales and 1 not in scales:
        raise ValueError('--scale must include 1: efficiency is relative to one server')
    if scales and len(levels) > 1 and args.concurrency != CONCURRENCY:
        raise ValueError('--concurrency: --scale measures at one level, give one number')
    # scale-out is measured on the paper's PCs
    profile = hardware.get(args.hardware or '2003') if args.hardware or scales else None
    page = args.page or ('cgi' if scales else 'light')
    sync = bool(getattr(args, 'sync_daemon', None))
    if mode in ('ramp', 'scale'):       # (a static IPVS service; the ramp may sync it)
        cli.no_stack_flags(args, 'HA settings apply to --conn-sync only (--sync-daemon: '
                           'to the ramp too)', allowed=('--sync-daemon',) if mode == 'ramp'
                           else ())
    elif sync:
        raise ValueError('--conn-sync chooses the sync daemon per way (--ways): leave out '
                         '--sync-daemon')
    patterns = cli.names(args.patterns, PATTERNS, 'pattern')
    sources = args.client_addresses or (cli.inventory(args).client_addresses if args.target
                                        else CLIENT_ADDRESSES)
    config = cli.cluster_config(args, client_addresses=sources,
                                **({'servers': max(scales)} if scales else {}))
    options = {'mode': mode}
    cells = []
    if mode in ('ramp', 'scale'):
        requests = args.requests or max(1000, 10 * levels[0])
        options.update(page=page, requests=args.requests, concurrency=levels if mode == 'ramp'
                       else levels[:1], scale=scales)
        if mode == 'ramp':
            options.update(patterns=patterns, conntrack_max=args.conntrack_max,
                           sync_daemon=sync)
    elif mode == 'failover':
        chosen = cli.layouts(args, '--conn-sync')
        options.update(clients=args.clients, hold_s=args.hold)
        cells = [Cell(n, ha.layout_stack(n, config, args),
                      scenarios.failover_under_load(args.clients, args.hold), {'layout': n},
                      experiment='load-failover') for n in chosen]
    else:
        settings = ha.settings_from_args(args.stack, args)
        ways = cli.names(args.ways, list(WAYS), 'way')
        server = change_server(args, config)
        options.update(sessions=args.sessions, interval_s=args.interval, hold_s=args.hold,
                       ways=ways, fault=args.fault, change=args.change, change_server=server)
        cells = [Cell(way, ha.get(args.stack)(way_config(config, way),
                                              settings.replace(sync_daemon=WAYS[way].sync)),
                      scenarios.conn_sync(args.sessions, args.interval, args.hold,
                                          args.fault, args.change, server),
                      {'way': way}, experiment='conn-sync') for way in ways]
    scenario = scenarios.ramp(levels, lambda c: args.requests or max(1000, 10 * c), page,
                              patterns, args.conntrack_max, config.active_active, sync) \
        if mode == 'ramp' else scenarios.scale(scales, levels[0], requests, page) \
        if mode == 'scale' else None
    return Plan('load', config, hardware=profile, options=options, scenario=scenario,
                cells=cells, measure=cli.measure(args, wait=120.0), trials=n,
                keep_degraded=keep, sandbox_only=args.conntrack_max and
                '--conntrack-max sets the kernel\'s one connection-tracking table')


def change_server(args, config):
    """The real server --change changes (None without --change); ValueError when the
    change cannot be made."""
    if args.change_server and not args.change:
        raise ValueError('--change-server names the server of --change: give --change too')
    if not args.change:
        return None
    if config.servers < 2 and args.change in ('remove', 'add', 'disagree'):
        raise ValueError('--change %s needs another real server to serve meanwhile: '
                         '--servers 2 or more' % args.change)
    server = args.change_server or config.real_servers[1 if config.servers > 1 else 0]
    if server not in config.real_servers:
        raise ValueError('--change-server must be one of %s' % ', '.join(config.real_servers))
    if args.change == 'disagree' and config.servers_inside:
        raise ValueError('--change disagree cuts the backup\'s path to the server on the hub; '
                         'with --forwarding %s the real servers are not on it'
                         % config.forwarding)
    return server


def way_config(config, way):
    """The cluster of a conn-sync way: its scheduler (mh: with the flags given with
    --scheduler mh), sloppy TCP (or the run's own) and active/active."""
    w = WAYS[way]
    changes = {'sloppy_tcp': True} if w.sloppy else {}
    if w.scheduler and w.scheduler != config.scheduler:
        changes.update(scheduler=w.scheduler, sched_flags=())
    if w.active_active:
        changes.update(active_active=True)
    return config.variant(**changes) if changes else config


def body(plan, out):
    mode = plan.options['mode']
    if mode in ('ramp', 'scale') and plan.trials > 1:
        s = trials(plan, out, load_numbers,
                   lambda trial_out: report.load_lab(report.load(trial_out), trial_out))
        report.trials(s, out)
        return 0 if s['passed'] else 1
    if mode in ('ramp', 'scale'):
        Run(plan, out).run()
    elif mode == 'failover':
        Matrix(plan, out, trials=plan.trials).run(
            'failover_under_load', lambda c, r, o: failover_cell(
                c.labels['layout'], plan.options['clients'], r, o), 'load_failover.csv',
            SERIES_FIELDS)
    else:
        matrix = Matrix(plan, out, trials=plan.trials)
        cells = matrix.run('cells', lambda c, r, o: (conn_sync_cell(
            c.labels['way'], c.stack.config, plan.options['sessions'], r, o), []))
        if plan.trials == 1:        # the plot's view; trials: each cell's, and the spreads
            matrix.summary.update(conn_sync={plan.cells[0].stack.layout: {
                c['way']: c for c in cells}})
    s = report.load(out)
    report.load_lab(s, out)
    return 0 if s['passed'] else 1


def main(argv=None):
    cli.use_system_python()
    args, plan = parse_args(argv)
    return cli.execute(args, plan, lambda out: body(plan, out), parts=['cluster', 'plots', 'load'])


if __name__ == '__main__':
    sys.exit(main())
