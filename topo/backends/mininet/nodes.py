"""The cluster's machines as Mininet hosts: the primitives of topo/backends.Node,
with the roles of topo/network/roles.py on top.

Mininet hosts have their own network and mount namespaces but share the
filesystem, the PID space and the host name: every node gets its own
/etc/hosts by a bind mount in its mount namespace, and a node's processes
are found by their network namespace (a `pkill` would hit the other nodes).
"""
import os
import subprocess
import sys
import time
from pathlib import Path

from mininet.node import Host

from topo.backends import Node
from topo.network import roles

ROOT = str(Path(__file__).resolve().parents[3])   # the folder holding topo/


def process_name(pid):
    """What a process is called: its command name, or its script for an interpreter."""
    try:
        with open('/proc/%d/comm' % pid) as f:
            comm = f.read().strip()
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            argv = f.read().split(b'\0')
    except OSError:
        return None
    if comm.startswith(('perl', 'python', 'sh', 'bash')) and len(argv) > 1:
        return argv[1].decode(errors='replace')
    return comm


def netns_id(pid):
    try:
        return os.readlink('/proc/%d/ns/net' % pid)
    except OSError:
        return None


def bind_order(private_dirs, root):
    """The order to bind a node's private dirs in: one that holds the private root
    (/run holds /run/hatestbed.*) last, as bound before the others it would hide their
    sources (the others keep their order)."""
    holds_root = lambda d: str(root).startswith(d.rstrip('/') + '/')
    return sorted(private_dirs, key=holds_root)


class MininetNode(Host, Node):
    """A PC on the hub: own /etc/hosts, its processes found by network namespace."""

    def __init__(self, name, hosts_file=None, hub_side=None, **params):
        self.hosts_file = hosts_file
        self.hub_side = hub_side        # run(cmd) in the root namespace: the hub's end of a cable
        self.helpers = []
        self.instruments = []
        self.cable_was_down = False     # the testbed set its links down (a fault) this run
        Host.__init__(self, name, **params)

    def config(self, ip6=None, legs6=None, cable6=None, **params):
        """ip6: its IPv6 address on its first cable; legs6: {another interface: its
        IPv6 address there} (NAT's directors, the router), between which it routes;
        cable6: the same for the crossover cable, which carries no routed traffic."""
        r = Host.config(self, **params)
        if ip6:
            self.add_address6(ip6, self.interfaces()[0])
        for interface, address in (cable6 or {}).items():
            self.add_address6(address, interface)
        for interface, address in (legs6 or {}).items():
            self.add_address6(address, interface)
        if legs6:
            self.cmd('sysctl -qw net.ipv6.conf.all.forwarding=1')
        return r

    def add_address6(self, address, interface):
        """keep_addr_on_down: a cable set down (a fault) keeps the address, as a pulled
        cable does (the kernel drops IPv6 addresses at an admin down). nodad: usable at
        once (the testbed's addresses are its own)."""
        if '/' not in address:
            address += '/64'
        self.cmd('sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1 '
                 'net.ipv6.conf.%s.keep_addr_on_down=1' % interface)
        out = self.cmd('ip -6 addr add %s dev %s nodad' % (address, interface))
        if out.strip():
            raise RuntimeError('%s: its IPv6 address %s: %s' % (self.name, address, out.strip()))

    def mountPrivateDirs(self):
        # /etc/hosts first: a private /run may hide the file's source afterwards.
        if self.hosts_file:
            self.cmd('mount --bind', self.hosts_file, '/etc/hosts')
        Host.mountPrivateDirs(self)

    def unmountPrivateDirs(self):
        Host.unmountPrivateDirs(self)
        if self.hosts_file:
            self.cmd('umount /etc/hosts')

    # -- the primitives -------------------------------------------------------------------
    def popen(self, argv, **kwargs):
        proc = Host.popen(self, argv, **kwargs)
        self.helpers.append(proc)
        return proc

    def agent(self, module, *args, **popen_args):
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED='1')
        popen_args.setdefault('stdout', subprocess.PIPE)
        popen_args.setdefault('stderr', subprocess.STDOUT)
        return self.popen([sys.executable, '-m', module] + [str(a) for a in args],
                          env=env, cwd=ROOT, universal_newlines=True, **popen_args)

    def interfaces(self):
        return [i for i in self.intfNames() if i != 'lo']

    def proc_net(self, name):
        # a namespace's /proc/net is seen through any of its processes: no process
        # started (one start costs 50 ms under UML)
        try:
            with open('/proc/%d/net/%s' % (self.pid, name)) as f:
                return f.read()
        except OSError:
            return ''

    def address(self):
        return self.IP()

    def mac(self):
        return self.MAC()

    def set_links(self, up, lan_only=False):
        names = self.interfaces()[:1] if lan_only else self.interfaces()
        for name in names:
            self.cmd('ip link set %s %s' % (name, 'up' if up else 'down'))
        t = time.time()
        self.cable_was_down = self.cable_was_down or not up
        if up:
            self.restore_routes()
        return t

    def processes(self, names=None):
        mine = netns_id(self.pid)
        pids = [int(e) for e in os.listdir('/proc') if e.isdigit() and netns_id(int(e)) == mine]
        pids = [p for p in pids if p != self.pid]       # the shell is the testbed's hand
        return pids if names is None else [p for p in pids if process_name(p) in names]

    def signal(self, sig, pids):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def set_loss(self, percent):
        lan = self.interfaces()[0]
        hub_end = self.hub_side(self)
        for run, intf in ((self.cmd, lan), (_root_cmd, hub_end)):
            if percent:
                out = run('tc qdisc replace dev %s root netem loss %g%%' % (intf, percent))
            else:
                out = run('tc qdisc del dev %s root' % intf)
            if percent and out.strip():
                raise RuntimeError('netem on %s: %s' % (intf, out.strip()))

    def private(self, path):
        raise ValueError('%s is not private to %s' % (path, self.name))

    def terminate(self):
        for proc in self.helpers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.helpers = []
        if self.shell:
            self.kill(keep_instruments=False)
        Host.terminate(self)


def _root_cmd(command):
    return subprocess.run(command.split(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True).stdout


class RealServer(roles.RealServer, MininetNode):
    def __init__(self, name, vip=None, web_port=80, web_dir=None, forwarding='dr', gateways=(),
                 tun_type='ipip', vips=(), **params):
        self.vip, self.web_port, self.forwarding = vip, web_port, forwarding
        self.vips = tuple(vips) or ((vip,) if vip else ())
        self.gateways, self.tun_type = tuple(gateways), tun_type
        MininetNode.__init__(self, name, **params)
        self.make_web(web_dir or '/run/hatestbed-web/%s' % name)

    def config(self, **params):
        r = MininetNode.config(self, **params)
        self.configure_forwarding()
        roles.tune_for_load(self)
        return r


class Director(roles.Director, MininetNode):
    """The HA stack's daemons need some directories of their own (private_dirs, e.g.
    /etc/ha.d, /run): each is bound from <private_root>/<name>/ in the director's
    mount namespace, where the testbed also reads their logs."""

    def __init__(self, name, private_root=None, private_dirs=(), vip=None, gateways=(),
                 next_hops=(), vips=(), **params):
        self.vip, self.gateways, self.next_hops = vip, tuple(gateways), tuple(next_hops)
        self.vips = tuple(vips) or ((vip,) if vip else ())
        self.root = Path(private_root or '/run') / name
        self.private_dirs = tuple(private_dirs)
        for d in self.private_dirs:
            (self.root / d.lstrip('/')).mkdir(parents=True, exist_ok=True)
        params['privateDirs'] = [(d, str(self.root / d.lstrip('/')))
                                 for d in bind_order(self.private_dirs, self.root)]
        MininetNode.__init__(self, name, **params)

    def config(self, **params):
        r = MininetNode.config(self, **params)
        if self.gateways:           # NAT: it routes between the client and the servers
            self.cmd('sysctl -qw net.ipv4.ip_forward=1')
        return r

    def private(self, path):
        for d in self.private_dirs:
            if path == d or path.startswith(d + '/'):
                return str(self.root / path.lstrip('/'))
        return MininetNode.private(self, path)


class Client(roles.Client, MininetNode):
    def config(self, **params):
        r = MininetNode.config(self, **params)
        roles.tune_for_load(self)
        return r


class Router(roles.Router, MininetNode):
    def config(self, **params):
        r = MininetNode.config(self, **params)
        self.configure_routing()
        return r
