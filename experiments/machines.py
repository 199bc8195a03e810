#!/usr/bin/env python3
"""Machines of their own on this host, one User-Mode-Linux kernel each, reachable over
SSH from here: what the real-machine path (an inventory, Ansible, the SSH backend) is
tried on without real machines.

  sudo python3 experiments/machines.py up --inventory machines.yml   # boot, write inventory
  sudo python3 experiments/machines.py run laicoz 'ipvsadm -L -n'
  sudo python3 experiments/machines.py power-off laicoz    # its kernel killed
  sudo python3 experiments/machines.py power-on laicoz
  sudo python3 experiments/machines.py down
"""
import argparse
import json
import os
import sys
from pathlib import Path

if __name__ == '__main__':      # run as a file: its folder holds scripts, the package is one up
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
from topo.backends.machines import uml_machines as machines  # noqa: E402
from topo.engine import cli  # noqa: E402
from topo.network.config import ClusterConfig, ConfigError  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='command', required=True)
    up = sub.add_parser('up', help='boot the machines and write their inventory')
    up.add_argument('--inventory', required=True, type=cli.path_arg,
                    help='the inventory file to write (YAML)')
    up.add_argument('--servers', type=int, default=3, help='real servers (laico2..)')
    up.add_argument('--uml-kernel', default=os.environ.get('HATESTBED_UML_KERNEL', 'auto'),
                    metavar='auto|debian|PATH',
                    help='the UML kernel every machine boots (as the experiments\' '
                         '--uml-kernel; env HATESTBED_UML_KERNEL)')
    sub.add_parser('down', help='kill every machine, remove their networks and state')
    for name, text in (('power-off', 'kill one machine\'s kernel'),
                       ('power-on', 'boot one machine again')):
        s = sub.add_parser(name, help=text)
        s.add_argument('machine')
    run = sub.add_parser('run', help='run a command on a machine over SSH')
    run.add_argument('machine')
    run.add_argument('remote_command')
    return p.parse_args(argv)


def saved_config(state):
    try:
        return ClusterConfig(**json.loads((state / 'config.json').read_text()))
    except OSError:
        raise ConfigError('no machines are up (%s missing)' % state)


def main(argv=None):
    args = parse_args(argv)
    state = machines.STATE
    try:
        if args.command == 'up':
            from topo.kernels import uml_kernels
            config = ClusterConfig(servers=args.servers)
            try:
                kernel = uml_kernels.choose(args.uml_kernel)
            except uml_kernels.KernelChoiceError as e:
                raise ConfigError(str(e))
            m = machines.Machines(config, state, kernel)
            m.up(args.inventory)
            print('machines up: %s (%s); inventory %s' % (
                ', '.join(config.hosts), machines.describe(kernel), args.inventory))
            return 0
        m = machines.Machines(saved_config(state), state)
        if args.command == 'down':
            m.down()
        elif args.command == 'power-off':
            m.kill(args.machine)
        elif args.command == 'power-on':
            m.boot(args.machine)
        else:
            p = m.run(args.machine, args.remote_command)
            print(p.stdout, end='')
            return p.returncode
        return 0
    except ConfigError as e:
        print('error: %s' % e, file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
