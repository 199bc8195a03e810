"""What the testbed needs installed, gathered from the registries: the parts every
run uses, each HA stack's daemons (topo/ha), each kernel mode (topo/kernels).
A new stack or kernel mode declares its own; nothing is listed twice.

  python3 -m topo.packages              the Debian packages `./testbed setup` installs
  python3 -m topo.packages --install-files
                                        the stacks' own files onto this machine (e.g.
                                        Pacemaker's fence agent), where they differ
  python3 -m topo.packages --services [PKG ...]
                                        the services those packages (default: all of
                                        them) start on a systemd host; the set-up stops
                                        those of the packages it has just installed (the
                                        testbed runs its own copies inside its nodes)
"""
import importlib.util
import os
import shutil
import sys

# (kind 'cmd'|'py'|'file', name, Debian package) that each part of a run needs
NEEDS = {
    'cluster': [('cmd', 'mnexec', 'mininet'), ('py', 'mininet', 'mininet'),
                ('cmd', 'ovs-vsctl', 'openvswitch-switch'),
                ('cmd', 'ovs-vswitchd', 'openvswitch-switch'),
                ('cmd', 'ovsdb-server', 'openvswitch-switch'),
                ('cmd', 'ipvsadm', 'ipvsadm'), ('cmd', 'nginx', 'nginx-light'),
                ('py', 'requests', 'python3-requests'), ('cmd', 'curl', 'curl'),
                ('py', 'jinja2', 'python3-jinja2'),
                ('cmd', 'ping', 'iputils-ping'), ('cmd', 'tc', 'iproute2'),
                ('file', '/etc/services', 'netbase')],
    'controller': [('cmd', 'osken-manager|ryu-manager', 'python3-os-ken')],
    'plots': [('py', 'pandas', 'python3-pandas'), ('py', 'matplotlib', 'python3-matplotlib')],
    'load': [('cmd', 'h2load', 'nghttp2-client')],
    # the same config templates, rendered by Ansible onto real machines (and a test
    # that both renderers agree)
    'deploy': [('cmd', 'ansible-playbook', 'ansible-core'), ('py', 'yaml', 'python3-yaml'),
               ('cmd', 'ssh', 'openssh-client')],
    # machines of their own here (topo/backends/machines/uml_machines.py), each running this host's files:
    # their sshd, their disks, and what the playbook's roles install on a machine
    # (the directors' partition rules, its package manager's Python binding)
    'machines': [('cmd', 'sshd', 'openssh-server'), ('cmd', 'mkfs.ext4', 'e2fsprogs'),
                 ('cmd', 'iptables-legacy', 'iptables'),
                 ('cmd', 'arptables-legacy', 'arptables'), ('py', 'apt', 'python3-apt')],
}
# what the set-up adds for the tools around the runs: the test suite, `pip install .`,
# the README's `sudo python ...`, and the basics a minimal Debian lacks
TOOLS = ['python3-pytest', 'python3-pytest-xdist', 'python3-pip', 'python3-setuptools',
         'python-is-python3', 'sudo', 'kmod', 'procps', 'util-linux']
# what `./testbed setup` needs before it can ask this module (python3 itself)
BOOTSTRAP = ['python3']
# package -> service it starts, beyond the stacks'
SERVICES = {'nginx-light': 'nginx', 'openssh-server': 'ssh'}


def _stacks():
    from topo import ha
    return ha.load().values()


def setup_packages():
    """Every Debian package the testbed needs on this machine."""
    from topo import kernels
    pkgs = set(BOOTSTRAP + TOOLS) | {p for need in NEEDS.values() for _, _, p in need}
    pkgs |= {p for cls in _stacks() for _, _, p in cls.needs()}
    pkgs |= set(kernels.packages())
    return sorted(pkgs)


def services(packages=None):
    """Services the packages start on a systemd host (the testbed runs its own): of the
    given packages only (those the set-up has just installed: a service the machine had
    before is the owner's, and stays as it was), or of all of them."""
    by_package = {}
    for package, service in SERVICES.items():
        by_package.setdefault(package, set()).add(service)
    for cls in _stacks():
        for d in cls.daemon_classes:
            for _, _, package in d.needs:
                by_package.setdefault(package, set()).update(d.services)
    wanted = by_package if packages is None else set(packages)
    return sorted({s for p in wanted for s in by_package.get(p, ())})


def run_packages(stack=None):
    """The packages whose versions a run's summary records."""
    from topo import kernels
    pkgs = ['ipvsadm', 'openvswitch-switch', 'mininet', 'python3-os-ken', 'nginx-light']
    if stack is not None:
        pkgs += [p for _, _, p in stack.needs()]
    if kernels.current().package:
        pkgs.append(kernels.current().package)
    return sorted(set(pkgs))


def missing(parts, needs=()):
    """[(what, package)] for everything the given parts need but this machine lacks."""
    found = []
    for kind, name, package in [n for part in parts for n in NEEDS[part]] + list(needs):
        if kind == 'cmd':
            ok = any(shutil.which(n) for n in name.split('|'))
        elif kind == 'py':
            ok = importlib.util.find_spec(name) is not None
        else:
            ok = os.path.exists(name)
        if not ok and (name, package) not in found:
            found.append((name, package))
    return found


def install_files():
    """The files the stacks' daemons install on the machine (topo/ha/daemons `installs`)."""
    from topo.ha.daemons import install_files as install
    return install([d for cls in _stacks() for d in cls.daemon_classes])


if __name__ == '__main__':
    if sys.argv[1:2] == ['--install-files']:
        for path in install_files():
            print('installed %s' % path)
    elif sys.argv[1:2] == ['--services']:
        print('\n'.join(services(sys.argv[2:] or None)))
    else:
        print('\n'.join(setup_packages()))
