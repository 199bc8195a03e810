#!/usr/bin/env python3
"""The paper's cluster: a smoke run with a static IPVS service, or Mininet's CLI on
it; with --stack, the live lab: the HA cluster and commands that inject faults.

  sudo python3 experiments/cluster.py --smoke    # build, prove the hub, 15 requests
  sudo python3 experiments/cluster.py --cli      # static service, with Mininet's CLI on it
  sudo python3 experiments/cluster.py --cli --stack heartbeat   # the live lab (try `help`)
  sudo python3 experiments/cluster.py --cli < commands.txt    # CLI commands from a file
  sudo python3 experiments/cluster.py --smoke --target machines.yml   # on real machines
"""
import os
import sys
import tempfile
from pathlib import Path

if __name__ == '__main__':      # run as a file: its folder holds scripts, the package is one up
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from topo import backends, ha  # noqa: E402
from topo.analysis import report  # noqa: E402
from topo.engine import cli, lab, scenarios  # noqa: E402
from topo.engine.run import Plan, Run, stage  # noqa: E402
from topo.network.config import PRIMARY  # noqa: E402


def parse_args(argv=None):
    p = cli.base_parser(__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument('--smoke', action='store_true',
                      help='smoke run: hub check, static rr service on laicoz, 15 requests')
    mode.add_argument('--cli', action='store_true', help='open the Mininet CLI on the cluster')
    p.add_argument('--cli-script', metavar='FILE', type=cli.path_arg,
                   help="with --cli: run the CLI commands in FILE, then tear down (as Mininet's "
                        '`mn --script`); commands piped on standard input do the same')
    p.add_argument('--requests', type=int, default=15, help='requests sent in the smoke run')
    p.add_argument('--stack', choices=ha.stack_names(redundant=False),
                   help='with --cli: the HA cluster with this stack, and the lab commands '
                        '(poweroff, unplug, crash, partition, loss, owners, figure, ...)')
    cli.add_cluster_args(p)
    ha.add_arguments(p)
    args = p.parse_args(argv)
    given = cli.given(p, argv)
    which = 'smoke' if args.smoke else 'lab' if args.stack else 'cli'
    cli.refuse(p, given, which, {
        'requests': (('smoke',), '--smoke'), 'cli_script': (('cli', 'lab'), '--cli'),
        'stack': (('lab',), '--cli (the live lab)'),
        'crossover': (('lab',), 'the live lab (--cli --stack): nothing else uses the cable')})
    if args.cli and args.target:
        p.error('--cli with --target: the shell and the live lab are Mininet\'s CLI, on the '
                'emulation only; on real machines use their own shells (machines.py run)')
    if ha.given_flags(args) and not args.stack:
        p.error('%s: HA stack flags go with --stack' % ', '.join(ha.given_flags(args)))
    if args.requests < 1:
        p.error('--requests must be at least 1')
    if args.cli_script and not os.access(args.cli_script, os.R_OK):
        p.error('--cli-script %s: no such readable file' % args.cli_script)
    try:
        config = cli.cluster_config(args)
        stack = ha.get(args.stack)(config, ha.settings_from_args(args.stack, args)) \
            if args.stack else None
        plan = Plan('smoke', config, scenario=scenarios.smoke(args.requests)) if args.smoke \
            else Plan('cli', config, stack, options={'cli_script': args.cli_script})
    except ValueError as e:
        p.error(str(e))
    return args, plan


def smoke(plan, out):
    result = Run(plan, out).run()
    report.verdict(report.load(out), out, 'answers per server %s'
                   % result.measured.bursts[-1].answers if result.measured.bursts else 'no answers')
    return 0 if result.passed else 1


def shell(plan, script):
    """Mininet's CLI on the cluster: with a static service, or the live lab with a stack."""
    from topo.agents.recorder import Recorder
    config, stack = plan.config, plan.stack
    stage('starting the cluster%s' % (' with %s' % stack.description if stack else ''))
    with backends.network(config, log=stage, stack=stack,
                          recorder=Recorder() if stack else None) as net:
        if not stack:
            net.director().install_service(config)
            net.director().add_vip(config.vip)
            print('cluster up; laicoz holds the VIP %s with a static %s service.\n'
                  "try: laicoz ipvsadm -L   client curl -s %s   exit to tear down"
                  % (config.vip, config.scheduler, net.url()))
            net.cli(script=script)
            return 0
        if net.recorder.wait_for(lambda r: r.owners([PRIMARY]), stack.acquire_deadline_s):
            stage('laicoz holds the VIP')
        print('the live lab: %s. `help` lists the commands (poweroff, unplug, crash, '
              'partition, loss, hang, flap, inject, faults, owners, figure, ...); exit to '
              'tear down' % stack.description)
        net.cli(lab.commands(), 'lab> ', script).clear_all()
    return 0


def piped_commands():
    """CLI commands piped on standard input, saved to a file (the run inside UML
    cannot read this process's standard input); None at a terminal."""
    if sys.stdin is None or sys.stdin.isatty():
        return None
    text = sys.stdin.read()
    if not text.strip():
        return None
    fd, path = tempfile.mkstemp(prefix='hatestbed-cli.', suffix='.txt', dir='/var/tmp')
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    return path


def main(argv=None):
    cli.use_system_python()
    args, plan = parse_args(argv)
    if args.smoke:
        return cli.execute(args, plan, lambda out: smoke(plan, out),
                           parts=['cluster'])
    piped = None if args.cli_script or args.show_plan else piped_commands()
    if piped:
        args.cli_script = piped
        sys.argv += ['--cli-script', piped]     # for the run inside UML
    try:
        return cli.execute(args, plan, lambda _out: shell(plan, args.cli_script),
                           parts=['cluster'], results=False,
                           host_files=[args.cli_script] if args.cli_script else [])
    finally:
        if piped:
            os.unlink(piped)


if __name__ == '__main__':
    sys.exit(main())
