#!/usr/bin/env python3
"""Maintenance and growth without unavailability, as the paper's section 2.2 claims
them, with each HA layout: a rolling upgrade of every real server, or (--grow N) the
service grown to N real servers and back, under load.

Drained (the careful way): weight 0 on the directors, wait until the server's active
connections end, stop it, upgrade it (its pages' version goes from 1 to 2), start it,
wait until the health check puts it back, then the next; goal: no failed request.
Naive: the same without the drain; the failures it costs are counted.
Growth: the extra real servers (up from the start, outside the service) join through
the stack's own reload (ldirectord's, keepalived's SIGHUP; no daemon restarted), then
are drained and leave the same way; goal: no failed request.

  sudo python3 experiments/maintenance.py                        # every layout, both ways
  sudo python3 experiments/maintenance.py --layouts keepalived --ways drained --clients 100
  sudo python3 experiments/maintenance.py --grow 6               # 3 -> 6 -> 3 real servers
  sudo python3 experiments/maintenance.py --target machines.yml --layouts keepalived
"""
import sys
from pathlib import Path

if __name__ == '__main__':      # run as a file: its folder holds scripts, the package is one up
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from topo import ha  # noqa: E402
from topo.analysis import maintenance, report  # noqa: E402
from topo.engine import cli, matrix, scenarios  # noqa: E402
from topo.engine.matrix import Cell  # noqa: E402
from topo.engine.run import Plan  # noqa: E402

WAYS = ('drained', 'naive')


def parse_args(argv=None):
    known = ha.layouts()
    p = cli.base_parser(__doc__.splitlines()[0])
    g = p.add_argument_group('maintenance')
    g.add_argument('--layouts', default=','.join(known),
                   help='HA layouts, of: %s' % ', '.join(known))
    g.add_argument('--ways', default=','.join(WAYS),
                   help='drained (weight 0 first) and/or naive (stopped as it is)')
    g.add_argument('--grow', type=int, metavar='N',
                   help='instead of the upgrade: grow the service from --servers to N real '
                        'servers and back')
    g.add_argument('--clients', type=int, default=0,
                   help='sustained load besides the prober: simultaneous clients, one '
                        'connection per request from the client\'s one address (its '
                        'source ports are soon reused, and IPVS then loses SYNs: see the '
                        'README)')
    cli.add_cluster_args(p)
    cli.add_measure_args(p, 'probe_rate', 'wait', wait=120.0)
    cli.add_trials_arg(p)
    ha.add_arguments(p)
    args = p.parse_args(argv)
    cli.refuse(p, cli.given(p, argv), 'grow' if args.grow else 'upgrade',
               {'ways': (('upgrade',), 'the rolling upgrade (--grow has no naive way)')})
    try:
        n, keep = cli.trials(args)
        layouts, ways = cli.layouts(args), cli.names(args.ways, WAYS, 'way')
        if args.clients < 0:
            raise ValueError('--clients must be 0 or more')
        if args.grow and args.target and args.grow > len(cli.inventory(args).real_servers):
            raise ValueError('--grow %d: the inventory has %d real servers'
                             % (args.grow, len(cli.inventory(args).real_servers)))
        if args.grow is not None and args.grow <= args.servers:
            raise ValueError('--grow %d: more real servers than --servers %d, please'
                             % (args.grow, args.servers))
        if args.grow:       # every node up from the start, the service on the first ones
            config = cli.cluster_config(args, servers=args.grow)
            cells = [Cell('%s-grow' % layout, ha.layout_stack(layout, config, args),
                          scenarios.growth(args.servers, args.grow, args.clients),
                          {'layout': layout, 'way': 'grow'}, experiment='growth')
                     for layout in layouts]
            for cell in cells:
                cell.stack.in_service = args.servers
        else:
            config = cli.cluster_config(args)
            cells = [Cell('%s-%s' % (layout, way), ha.layout_stack(layout, config, args),
                          scenarios.maintenance(config.real_servers, args.clients,
                                                drain=way == 'drained'),
                          {'layout': layout, 'way': way}, experiment='maintenance')
                     for layout in layouts for way in ways]
        plan = Plan('maintenance', config, measure=cli.measure(args, wait=120.0),
                    options={'clients': args.clients, 'grow': args.grow,
                             'start_servers': args.servers}, cells=cells, trials=n,
                    keep_degraded=keep)
    except ValueError as e:
        p.error(str(e))
    return args, plan


def main(argv=None):
    cli.use_system_python()
    args, plan = parse_args(argv)

    def body(out):
        return matrix.cells(plan, out, 'maintenance', maintenance.numbers, 'maintenance.csv',
                            report.maintenance)
    return cli.execute(args, plan, body, parts=['cluster', 'plots', 'load'])


if __name__ == '__main__':
    sys.exit(main())
