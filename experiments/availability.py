#!/usr/bin/env python3
"""Availability under random faults: one seeded schedule of faults (power-offs,
crashes, hangs, pulled cables on the directors and the real servers) replayed
identically against one director without HA (the paper's starting point) and each
HA layout, with the prober on; per layout the share of time the service answered,
its nines, the downtime per kind of fault, and what that means at realistic rates.

Faults come one at a time: up for an exponential time (mean --mtbf, the whole
cluster's), then a node drawn at random and a fault that applies to it, repaired
after at least --min-repair seconds (--mttr on average). The same --seed gives the
same schedule (--plan prints it).

  sudo python3 experiments/availability.py                       # 10 min per layout
  sudo python3 experiments/availability.py --layouts single,keepalived --duration 120
  sudo python3 experiments/availability.py --seed 7 --trials 5   # spreads over 5 boots
  sudo python3 experiments/availability.py --target machines.yml --layouts keepalived
"""
import sys
from pathlib import Path

if __name__ == '__main__':      # run as a file: its folder holds scripts, the package is one up
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from topo import faults, ha  # noqa: E402
from topo.analysis import availability, report  # noqa: E402
from topo.engine import cli, matrix, scenarios, schedule  # noqa: E402
from topo.engine.matrix import Cell  # noqa: E402
from topo.engine.run import Plan  # noqa: E402
from topo.network.config import DIRECTORS  # noqa: E402

KINDS = 'power-off,crash,hang,cable-pull'


def parse_args(argv=None):
    # the baseline first: what HA is measured against
    known = dict(sorted(ha.layouts(redundant=False).items(), key=lambda kv: kv[1][0].redundant))
    p = cli.base_parser(__doc__.splitlines()[0])
    g = p.add_argument_group('availability')
    g.add_argument('--layouts', default=','.join(known),
                   help='layouts, of: %s' % '; '.join('%s (%s)' % (k, v[2])
                                                      for k, v in known.items()))
    g.add_argument('--duration', type=float, default=600.0, metavar='S',
                   help='seconds of faults and probing per layout')
    g.add_argument('--mtbf', type=float, default=60.0, metavar='S',
                   help="mean seconds between the cluster's faults (up time, exponential)")
    g.add_argument('--mttr', type=float, default=30.0, metavar='S',
                   help='mean seconds until a fault is repaired (cleared)')
    g.add_argument('--min-repair', type=float, default=20.0, metavar='S',
                   help='shortest repair: longer than a failover, or a repair could hide '
                        'whether the stack fails over')
    g.add_argument('--faults', default=KINDS,
                   help='the fault kinds drawn from, of: %s' % ', '.join(sorted(faults.load())))
    g.add_argument('--targets', help='the nodes faults hit (default: both directors and '
                   'every real server)')
    g.add_argument('--seed', type=int, default=1, help='the schedule\'s random seed')
    g.add_argument('--clients', type=int, default=0,
                   help='sustained load besides the prober (one connection per request '
                        'from the client\'s one address: see the README on lost SYNs)')
    e = p.add_argument_group('extrapolation to realistic rates')
    e.add_argument('--real-mtbf-days', type=float, default=30.0, metavar='D',
                   help='each node fails once in this many days')
    e.add_argument('--real-mttr-hours', type=float, default=4.0, metavar='H',
                   help='a repair takes this many hours')
    cli.add_cluster_args(p)
    cli.add_measure_args(p, 'probe_rate', 'wait', wait=120.0)
    cli.add_trials_arg(p)
    ha.add_arguments(p)
    args = p.parse_args(argv)
    try:
        n, keep = cli.trials(args)
        layouts = cli.layouts(args, known=known)
        if min(args.real_mtbf_days, args.real_mttr_hours) <= 0 or args.clients < 0:
            raise ValueError('--real-mtbf-days and --real-mttr-hours must be positive, '
                             '--clients 0 or more')
        config = cli.cluster_config(args)
        faults_ = schedule.generate(args.seed, args.duration, args.mtbf, args.mttr,
                                    choices(args, config), args.min_repair)
        if not faults_:
            raise ValueError('no fault fits in --duration %gs with --mtbf %gs and --mttr %gs: '
                             'lengthen the duration or shorten the times'
                             % (args.duration, args.mtbf, args.mttr))
        measure = cli.measure(args, wait=120.0)
        nodes = {'director': len(DIRECTORS), 'real server': config.servers}

        def analyse(result):
            return availability.analyse(result, 1.0 / measure.probe_rate, nodes, DIRECTORS,
                                        args.real_mtbf_days, args.real_mttr_hours)
        scenario = scenarios.availability(faults_, args.duration, args.clients, analyse)
        cells = [Cell(layout, ha.layout_stack(layout, config, args), scenario, {'layout': layout},
                      experiment='availability') for layout in layouts]
        plan = Plan('availability', config, measure=measure, cells=cells, trials=n,
                    keep_degraded=keep,
                    options={'seed': args.seed, 'duration_s': args.duration,
                             'mtbf_s': args.mtbf, 'mttr_s': args.mttr,
                             'min_repair_s': args.min_repair, 'clients': args.clients,
                             'schedule': [f.as_dict() for f in faults_],
                             'real_mtbf_days': args.real_mtbf_days,
                             'real_mttr_hours': args.real_mttr_hours})
    except ValueError as e:
        p.error(str(e))
    return args, plan


def choices(args, config):
    """{target: [fault kinds]} from the flags (ValueError for unknown ones)."""
    known = faults.load()
    kinds = cli.names(args.faults, sorted(known), 'fault')
    targets = args.targets.split(',') if args.targets else list(DIRECTORS) + config.real_servers
    bad = [t for t in targets if t not in list(DIRECTORS) + config.real_servers]
    if bad:
        raise ValueError('unknown target: %s (of: %s)' % (', '.join(bad), ', '.join(
            list(DIRECTORS) + config.real_servers)))

    def applies(kind, target):
        try:
            known[kind].check_target(target, config)
            return True
        except ValueError:
            return False
    return schedule.applicable(kinds, targets, applies)


def main(argv=None):
    cli.use_system_python()
    args, plan = parse_args(argv)

    def body(out):
        return matrix.cells(plan, out, 'availability', availability.numbers, 'availability.csv',
                            report.availability)
    return cli.execute(args, plan, body, parts=['cluster', 'plots'])


if __name__ == '__main__':
    sys.exit(main())
