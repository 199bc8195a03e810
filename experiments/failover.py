#!/usr/bin/env python3
"""The paper's experiment: two HA directors, three real servers; switch nodes off
and on, save the ipvsadm snapshots of figures 5-14, check them, and measure and
plot how long each failover takes.

  sudo python3 experiments/failover.py                 # heartbeat + ldirectord, as in the paper
  sudo python3 experiments/failover.py --deadtime 2    # slower failure detection
  sudo python3 experiments/failover.py --stack keepalived
  sudo python3 experiments/failover.py --trials 10     # ten boots: medians and spreads
  sudo python3 experiments/failover.py --target machines.yml   # on real machines (deploy first)
"""
import sys
from pathlib import Path

if __name__ == '__main__':      # run as a file: its folder holds scripts, the package is one up
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from topo import ha  # noqa: E402
from topo.analysis import report  # noqa: E402
from topo.analysis.timeline import failover_numbers  # noqa: E402
from topo.engine import cli, scenarios  # noqa: E402
from topo.engine.matrix import trials  # noqa: E402
from topo.engine.run import Plan, Run  # noqa: E402


def parse_args(argv=None):
    p = cli.base_parser(__doc__.splitlines()[0])
    p.add_argument('--stack', default='heartbeat', choices=ha.stack_names(),
                   help='HA stack on the two directors')
    cli.add_cluster_args(p)
    cli.add_measure_args(p, 'probe_rate', 'probe_timeout', 'wait', 'settle')
    cli.add_trials_arg(p)
    ha.add_arguments(p)
    args = p.parse_args(argv)
    try:
        n, keep = cli.trials(args)
        config = cli.cluster_config(args)
        stack = ha.get(args.stack)(config, ha.settings_from_args(args.stack, args))
        plan = Plan('failover', config, stack, cli.measure(args), scenario=scenarios.paper(),
                    trials=n, keep_degraded=keep)
    except ValueError as e:
        p.error(str(e))
    return args, plan


# what the report gives the spread of (trials.csv and summary.json have every number)
METRICS = ('outage_s', 'detected_s', 'fenced_s', 'vip_taken_s', 'client_moved_s',
           'table_ready_s', 'first_ok_s', 'failed_requests', 'failback_outage_s',
           'failback_client_moved_s', 'removal_outage_s', 'dual_owner_s', 'gateway_split_s')


def main(argv=None):
    cli.use_system_python()
    args, plan = parse_args(argv)

    def body(out):
        if plan.trials > 1:
            s = trials(plan, out, lambda r: failover_numbers(r.analysis),
                       lambda trial_out: report.run(report.load(trial_out), trial_out))
            report.trials(s, out, METRICS)
            return 0 if s['passed'] else 1
        result = Run(plan, out).run()
        report.run(report.load(out), out)
        return 0 if result.passed else 1
    return cli.execute(args, plan, body)


if __name__ == '__main__':
    sys.exit(main())
