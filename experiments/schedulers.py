#!/usr/bin/env python3
"""How IPVS spreads connections with each scheduler: rr, wrr, lc, wlc (the paper's), sh, mh.

  sudo python3 experiments/schedulers.py                    # weights 2,3,4, all six schedulers
  sudo python3 experiments/schedulers.py --weights 1,2,3 --schedulers wrr,wlc
  sudo python3 experiments/schedulers.py --schedulers mh,sh --hash-sources 900
  sudo python3 experiments/schedulers.py --target machines.yml   # on real machines

One cluster boot serves every scheduler: laicoz holds the VIP with a static
IPVS service (no HA daemons) and the scheduler is switched with `ipvsadm -E`.
For each scheduler, from a drained connection table: whole rounds of short
requests (rr gives equal shares, wrr exactly w_i per round: 2, 3, 4 of every 9,
the paper's worked example), then long-lived connections on top of sessions
already held by one server (lc evens out ActiveConn, wlc makes it proportional
to the weights; rr and wrr ignore them). The hashing schedulers sh and mh are asked
from many client addresses, each several times: every address must keep its server,
and the addresses spread over the servers by weight. The phases and their maths:
topo/engine/steps/schedulers.py and topo/analysis/scheduling.py.

The IPVS FIN_WAIT timeout is shortened (ipvsadm --set) so finished
connections leave the counters in seconds instead of two minutes; the run
waits for every counter to be 0 before each phase.
"""
import sys
from pathlib import Path

if __name__ == '__main__':      # run as a file: its folder holds scripts, the package is one up
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from topo.analysis import report  # noqa: E402
from topo.analysis.scheduling import SCHEDULERS, scheduler_numbers  # noqa: E402
from topo.engine import cli, scenarios  # noqa: E402
from topo.engine.matrix import trials  # noqa: E402
from topo.engine.run import Plan, Run  # noqa: E402
from topo.engine.steps.schedulers import SchedulerTrial  # noqa: E402
from topo.network.config import HASHING  # noqa: E402


def parse_args(argv=None):
    p = cli.base_parser(__doc__.splitlines()[0])
    cli.add_cluster_args(p, weights_default='2,3,4', scheduler=False, crossover=False)
    g = p.add_argument_group('schedulers')
    g.add_argument('--schedulers', default=','.join(SCHEDULERS),
                   help='schedulers to measure, in order (one cluster boot for all)')
    g.add_argument('--rounds', type=int, default=4,
                   help='short-request rounds per scheduler (a round: the weight sum, '
                        'made a multiple of the server count)')
    g.add_argument('--held-rounds', type=int, default=2,
                   help='rounds of new long-lived connections per scheduler')
    g.add_argument('--preload', type=int, default=None,
                   help='long-lived connections already on --preload-server before the new '
                        'ones (default: one round)')
    g.add_argument('--preload-server', default=None,
                   help='real server carrying the preloaded sessions (default: the last one)')
    g.add_argument('--fin-timeout', type=int, default=8,
                   help='IPVS FIN_WAIT timeout in seconds (ipvsadm --set; kernel default 120): '
                        'how long finished connections stay in InActConn')
    g.add_argument('--hold-timeout', type=float, default=300,
                   help='the load client releases its connections after this long whatever '
                        'happens')
    g.add_argument('--hash-sources', type=int, default=300, metavar='N',
                   help='sh, mh: how many client addresses the requests come from')
    g.add_argument('--hash-passes', type=int, default=2, metavar='N',
                   help='sh, mh: requests per client address (each must find the same server)')
    cli.add_trials_arg(p)
    args = p.parse_args(argv)
    try:
        n, keep = cli.trials(args)
        schedulers = tuple(s.strip() for s in args.schedulers.split(',') if s.strip())
        # the service is installed with the first scheduler
        hashing = [s for s in schedulers if s in HASHING]
        config = cli.cluster_config(args, scheduler=schedulers[0] if schedulers else 'rr',
                                    client_addresses=args.hash_sources if hashing else 1)
        trial = SchedulerTrial(schedulers, args.rounds, args.held_rounds, args.preload,
                               args.preload_server, args.fin_timeout, args.hold_timeout,
                               args.hash_sources, args.hash_passes).check(config)
        plan = Plan('schedulers', config, options={'settings': trial.as_dict(config)},
                    scenario=scenarios.schedulers(trial), trials=n, keep_degraded=keep)
    except ValueError as e:
        p.error(str(e))
    return args, plan


def main(argv=None):
    cli.use_system_python()
    args, plan = parse_args(argv)

    def body(out):
        if plan.trials > 1:
            s = trials(plan, out, scheduler_numbers,
                       lambda trial_out: report.schedulers(report.load(trial_out), trial_out))
            report.trials(s, out)
            return 0 if s['passed'] else 1
        result = Run(plan, out).run()
        report.schedulers(report.load(out), out)
        return 0 if result.passed else 1
    return cli.execute(args, plan, body)


if __name__ == '__main__':
    sys.exit(main())
