#!/usr/bin/env python3
"""The paper's cluster: a smoke run with a static IPVS service, or Mininet's CLI on
it; with --stack, the live lab: the HA cluster and commands that inject faults.

  sudo python3 experiments/cluster.py --smoke    # build, prove the hub, 15 requests, smoke.json
  sudo python3 experiments/cluster.py --cli      # static service, with Mininet's CLI on it
  sudo python3 experiments/cluster.py --cli --stack heartbeat   # the live lab (try `help`)
  sudo python3 experiments/cluster.py --cli < commands.txt    # CLI commands from a file
"""
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from experiments import common  # noqa: E402


def parse_args(argv=None):
    from topo import ha
    p = common.base_parser(__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument('--smoke', action='store_true',
                      help='smoke run: hub check, static rr service on laicoz, 15 requests')
    mode.add_argument('--cli', action='store_true', help='open the Mininet CLI on the cluster')
    p.add_argument('--cli-script', metavar='FILE',
                   help="with --cli: run the CLI commands in FILE, then tear down (as Mininet's "
                        '`mn --script`); commands piped on standard input do the same')
    p.add_argument('--requests', type=int, default=15, help='requests sent in the smoke run')
    p.add_argument('--stack', choices=sorted(ha.load()),
                   help='with --cli: the HA cluster with this stack, and the lab commands '
                        '(poweroff, unplug, crash, partition, loss, owners, figure, ...)')
    common.add_cluster_args(p)
    ha.add_arguments(p)
    args = p.parse_args(argv)
    try:
        args.config = common.cluster_config(args)
        if args.stack and not args.cli:
            raise ValueError('--stack goes with --cli (the live lab)')
        args.settings = ha.settings_from_args(args.stack or 'heartbeat', args)
        if not args.stack and args.settings != ha.get('heartbeat').Settings():
            raise ValueError('HA stack flags go with --stack')
    except ValueError as e:
        p.error(str(e))
    if args.requests < 1:
        p.error('--requests must be at least 1')
    if args.cli_script and not args.cli:
        p.error('--cli-script goes with --cli')
    if args.cli_script and not os.access(args.cli_script, os.R_OK):
        p.error('--cli-script %s: no such readable file' % args.cli_script)
    return args


def smoke(args, out):
    from topo import sandbox
    from topo.network import ipvs
    from topo.network.cluster import Cluster
    config = args.config
    summary = common.Summary(out / 'smoke.json', experiment='smoke',
                             kernel_mode=sandbox.kernel_mode(),
                             kernel_release=__import__('os').uname().release,
                             parameters=config.as_dict())
    t0 = time.monotonic()
    common.stage('starting the cluster: %s' % ', '.join(config.hosts))
    with Cluster(config, log=common.stage, log_dir=out) as cluster:
        summary.update(cluster_start_s=round(cluster.timings['start_s'], 2),
                       start_timings={k: round(v, 2) for k, v in cluster.timings.items()})
        common.stage('cluster up in %.1fs; checking hub behaviour' % cluster.timings['start_s'])
        hub = cluster.verify_hub()
        summary.update(hub_verified=hub['verified'], hub_check=hub)
        common.stage('hub: %(observer)s saw %(seen_by_observer)d of %(sent)d unicast frames '
                     '%(from)s -> %(to)s' % hub)
        laicoz = cluster.director()
        laicoz.install_service(config)
        laicoz.add_vip(config.vip, 32)
        common.stage('static IPVS service on laicoz; sending %d requests to %s'
                     % (args.requests, cluster.url()))
        replies = cluster.burst(args.requests)
        answers = {}
        for r in replies:
            key = r.get('server') if r['ok'] else 'failed'
            answers[key] = answers.get(key, 0) + 1
        listing, numeric = laicoz.snapshot(), laicoz.snapshot(numeric=True)
        (out / 'ipvsadm-laicoz.txt').write_text(listing)
        (out / 'ipvsadm-laicoz.n.txt').write_text(numeric)
        table = ipvs.parse(numeric)
        summary.update(answers=answers, requests=len(replies), ipvs_table=table,
                       ipvs_listing=listing)
        print(listing.rstrip())
    ok = hub['verified'] and answers.get('failed', 0) == 0 and len(replies) == args.requests
    summary.finish(elapsed_run_s=round(time.monotonic() - t0, 2), passed=ok)
    common.stage('answers per server: %s -> %s' % (answers, 'PASS' if ok else 'FAIL'))
    print('results: %s' % out)
    return 0 if ok else 1


def lab(args):
    """The HA cluster with the fault commands on its CLI."""
    from experiments.lab import LabCLI
    from topo import ha
    from topo.agents.recorder import Recorder
    from topo.network.cluster import Cluster
    stack = ha.get(args.stack)(args.config, args.settings)
    common.stage('starting the cluster with %s' % stack.description)
    with Cluster(args.config, log=common.stage, stack=stack, recorder=Recorder()) as cluster:
        if cluster.recorder.wait_for(lambda r: r.owners(['laicoz']), stack.acquire_deadline_s):
            common.stage('laicoz holds the VIP')
        print('the live lab: %s. `help` lists the commands (poweroff, unplug, crash, '
              'partition, loss, hang, owners, figure, ...); exit to tear down' % stack.description)
        shell = LabCLI(cluster, script=args.cli_script)
        shell.clear_all()
    return 0


def cli(args, _out):
    from mininet.cli import CLI
    from topo.network.cluster import Cluster
    if args.stack:
        return lab(args)
    with Cluster(args.config, log=common.stage) as cluster:
        laicoz = cluster.director()
        laicoz.install_service(args.config)
        laicoz.add_vip(args.config.vip, 32)
        print('cluster up; laicoz holds the VIP %s with a static %s service.\n'
              "try: laicoz ipvsadm -L   client curl -s %s   exit to tear down"
              % (args.config.vip, args.config.scheduler, cluster.url()))
        CLI(cluster.net, script=args.cli_script)
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
    common.use_system_python()
    args = parse_args(argv)
    if args.smoke:
        return common.run(args, ['cluster'], 'smoke', lambda out: smoke(args, out))
    piped = None if args.cli_script else piped_commands()
    if piped:
        args.cli_script = piped
        sys.argv += ['--cli-script', piped]     # for the run inside UML
    try:
        stacks = [__import__('topo.ha', fromlist=['get']).get(args.stack)(
            args.config, args.settings)] if args.stack else []
        return common.run(args, ['cluster'], 'cli', lambda out: cli(args, out), results=False,
                          host_files=[args.cli_script] if args.cli_script else [],
                          stacks=stacks)
    finally:
        if piped:
            os.unlink(piped)


if __name__ == '__main__':
    sys.exit(main())
