#!/usr/bin/env python3
"""Deploy the cluster onto the machines of an inventory with Ansible: packages from the
distribution, the HA stack's configs rendered from the testbed's own templates, the
real servers' web server and forwarding, the testbed's agents; every service started.
A second deployment with the same flags changes nothing (Ansible: changed=0).

  sudo python3 experiments/deploy.py --inventory machines.yml                    # heartbeat
  sudo python3 experiments/deploy.py --inventory machines.yml --stack keepalived
  sudo python3 experiments/deploy.py --inventory machines.yml --check            # dry run

Then run the experiments there: experiments/failover.py --target machines.yml (with the
same --stack and stack flags: a run refuses machines that run something else).
"""
import os
import re
import subprocess
import sys
from pathlib import Path

if __name__ == '__main__':      # run as a file: its folder holds scripts, the package is one up
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from topo import ha  # noqa: E402
from topo.backends.machines import deployment, preflight  # noqa: E402
from topo.engine import cli  # noqa: E402
from topo.engine.results import UsageError  # noqa: E402
from topo.engine.run import Plan  # noqa: E402
from topo.network.config import ConfigError  # noqa: E402


def parse_args(argv=None):
    p = cli.argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                    formatter_class=cli._HelpFormatter)
    p.add_argument('--inventory', required=True, metavar='FILE', type=cli.path_arg,
                   help='the machines (topo/backends/machines/inventory.py; `experiments/machines.py up` '
                        'writes one for machines of their own here)')
    p.add_argument('--stack', default='heartbeat', choices=ha.stack_names(),
                   help='HA stack on the two directors')
    p.add_argument('--check', action='store_true',
                   help="Ansible's dry run: what would change, nothing changed")
    g = p.add_argument_group('cluster (its machines, addresses and VIP are the inventory\'s)')
    g.add_argument('--weights', help='comma-separated weights, one per real server '
                   '(default: 1 each)')
    g.add_argument('--scheduler', default='rr', help='IPVS scheduler: rr, wrr, lc, wlc')
    g.add_argument('--forwarding', default='dr', choices=['dr', 'tun'],
                   help='LVS forwarding (default: the inventory\'s, else dr)')
    g.add_argument('--tun-type', default='ipip', choices=['ipip', 'gue', 'gre'],
                   help='with --forwarding tun: the encapsulation')
    g.add_argument('--ipv6', action='store_true',
                   help='the service on the inventory\'s IPv6 VIP (vip6) instead')
    g.add_argument('--dual-stack', action='store_true',
                   help='the service on both the inventory\'s VIP and its IPv6 one (vip6)')
    p.set_defaults(servers=None, vip=None, subnet=None)     # (the inventory's)
    ha.add_arguments(p)
    args = p.parse_args(argv)
    args.target = args.inventory
    if args.ipv6:       # (any IPv6 address asks for the inventory's vip6)
        args.vip = '::'
    try:
        config = cli.cluster_config(args)
        stack = ha.get(args.stack)(config, ha.settings_from_args(args.stack, args))
    except ValueError as e:
        p.error(str(e))
    return args, stack


def recap(output):
    """{host: {'ok': n, 'changed': n, 'failed': n, 'unreachable': n}} of PLAY RECAP."""
    out = {}
    for line in output.splitlines():
        m = re.match(r'^(\S+)\s+:\s+(ok=.*)$', line)
        if m:
            out[m.group(1)] = {k: int(v) for k, v in re.findall(r'(\w+)=(\d+)', m.group(2))}
    return out


def main(argv=None):
    args, stack = parse_args(argv)
    try:
        cli.preflight(['deploy'])
        inventory = cli.inventory(args)
        problems = preflight.target_problems(Plan('deploy', stack.config, stack,
                                                  target=inventory))
        if problems:
            raise UsageError('not on real machines: %s' % '; '.join(problems))
        preflight.reachable(inventory)        # every one reachable, or none touched
        state = deployment.state_dir(inventory.path)
        hosts = deployment.prepare(inventory, stack.config, stack)
    except (UsageError, ConfigError, RuntimeError) as e:
        print('error: %s' % e, file=sys.stderr)
        return 2
    argv = deployment.playbook_command(inventory, hosts, args.check)
    print('deploying %s to %s: %s' % (stack.description, ', '.join(inventory.machines),
                                      ' '.join(argv)), flush=True)
    env = dict(os.environ, ANSIBLE_PIPELINING='1', ANSIBLE_FORKS='10',
               ANSIBLE_PYTHON_INTERPRETER='/usr/bin/python3', ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCAL_TEMP=str(state / 'tmp'), ANSIBLE_RETRY_FILES_ENABLED='0')
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, env=env)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        print(line, end='', flush=True)
    status = proc.wait()
    totals = recap(''.join(lines))
    changed = sum(h.get('changed', 0) for h in totals.values())
    print('deployed: %s; changed=%d over %d machines' % (
        'ok' if status == 0 else 'FAILED (ansible-playbook exit %d)' % status, changed,
        len(totals)), flush=True)
    return 0 if status == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
