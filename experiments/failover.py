#!/usr/bin/env python3
"""The paper's experiment: two HA directors, three real servers; switch nodes off
and on, save the ipvsadm snapshots of figures 5-14, check them, and measure and
plot how long each failover takes.

  sudo python3 experiments/failover.py                 # heartbeat + ldirectord, as in the paper
  sudo python3 experiments/failover.py --deadtime 2    # slower failure detection
  sudo python3 experiments/failover.py --stack keepalived
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments import common  # noqa: E402


def parse_args(argv=None):
    from experiments.scenario import Measure
    from topo import ha
    from topo.network.config import ConfigError
    p = common.base_parser(__doc__.splitlines()[0])
    p.add_argument('--stack', default='heartbeat', choices=sorted(ha.load()),
                   help='HA stack on the two directors')
    common.add_cluster_args(p)
    g = p.add_argument_group('measurement')
    d = Measure()
    g.add_argument('--probe-rate', type=float, default=d.probe_rate, metavar='R',
                   help='requests per second of the prober (stages 3 and 4)')
    g.add_argument('--probe-timeout', type=float, default=d.probe_timeout, metavar='S',
                   help='timeout of each probe request')
    g.add_argument('--wait', type=float, default=d.wait, metavar='S',
                   help='longest wait for any expected state before the check fails')
    g.add_argument('--settle', type=float, default=d.settle, metavar='S',
                   help='probing after each recovery before the next fault')
    ha.add_arguments(p)
    args = p.parse_args(argv)
    try:
        args.config = common.cluster_config(args)
        args.settings = ha.settings_from_args(args.stack, args)
        args.measure = Measure(args.probe_rate, args.probe_timeout, args.wait, args.settle)
        if min(args.probe_rate, args.probe_timeout, args.wait) <= 0 or args.settle < 0:
            raise ConfigError('--probe-rate, --probe-timeout and --wait must be positive')
    except ValueError as e:
        p.error(str(e))
    return args


def make_stack(args):
    from topo import ha
    return ha.get(args.stack)(args.config, args.settings)


def run(args, out):
    from experiments import scenario
    return scenario.Run(args.config, make_stack(args), args.measure, out).run(scenario.PAPER)


def main(argv=None):
    common.use_system_python()
    args = parse_args(argv)
    return common.run(args, ['cluster', 'plots'], 'failover', lambda out: run(args, out),
                      stacks=[make_stack(args)])


if __name__ == '__main__':
    sys.exit(main())
