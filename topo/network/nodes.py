"""The node roles of the paper's cluster, as Mininet hosts.

Mininet hosts have their own network and mount namespaces but share the
filesystem, the PID space and the host name: every node gets its own
/etc/hosts by a bind mount in its mount namespace, and a node's processes
are found by their network namespace (a `pkill` would hit the other nodes).
"""
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from mininet.node import Host

from topo.network import ipvs
from topo.network.webserver import NginxServer, raise_limits

ROOT = str(Path(__file__).resolve().parents[2])   # the folder holding topo/


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


class ClusterHost(Host):
    """A PC on the hub: own /etc/hosts, and helpers to run the project's tools."""

    def __init__(self, name, hosts_file=None, **params):
        self.hosts_file = hosts_file
        self.helpers = []
        self.instruments = []   # the testbed's probes: they survive a power-off
        Host.__init__(self, name, **params)

    def mountPrivateDirs(self):
        # /etc/hosts first: a private /run may hide the file's source afterwards.
        if self.hosts_file:
            self.cmd('mount --bind', self.hosts_file, '/etc/hosts')
        Host.mountPrivateDirs(self)

    def unmountPrivateDirs(self):
        Host.unmountPrivateDirs(self)
        if self.hosts_file:
            self.cmd('umount /etc/hosts')

    def python(self, module, *args, **popen_args):
        """Start one of the project's Python modules inside this node."""
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED='1')
        popen_args.setdefault('stdout', subprocess.PIPE)
        popen_args.setdefault('stderr', subprocess.STDOUT)
        proc = self.popen([sys.executable, '-m', module] + [str(a) for a in args],
                          env=env, cwd=ROOT, universal_newlines=True, **popen_args)
        self.helpers.append(proc)
        return proc

    def processes(self):
        """PIDs of every process in this node's network namespace, its shell included."""
        mine = netns_id(self.pid)
        pids = []
        for entry in os.listdir('/proc'):
            if entry.isdigit() and netns_id(int(entry)) == mine:
                pids.append(int(entry))
        return pids

    def kill_processes(self, keep_shell=True, keep=(), only=None):
        """SIGKILL everything running in this node (power-off semantics), or only the
        processes of those names (a crash of those daemons)."""
        keep = set(keep) | ({self.pid} if keep_shell else set())
        pids = [p for p in self.processes() if p not in keep
                and (only is None or process_name(p) in only)]
        # Freeze them all first: a daemon whose children die with it on a signal of
        # their own (keepalived's get SIGTERM when their parent dies) would otherwise
        # shut down cleanly (priority 0, VIP removed) between two of our kills.
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        return pids

    # -- power: the shell stays (it is the testbed's hand on the machine) --
    def set_links(self, up, names=None):
        """Every link of the node (or those named) up or down; the time it was done."""
        for intf in self.intfList():
            if intf.name != 'lo' and (names is None or intf.name in names):
                self.cmd('ip link set %s %s' % (intf.name, 'up' if up else 'down'))
        return time.time()

    def power_off(self):
        """Links down, every process killed, kernel state gone: a switched-off PC.

        The links go first: the network must see the PC vanish at once, not
        after the (slow, under UML) walk through its processes. Returns the
        time the links were down: the moment of the fault.
        """
        t_fault = self.set_links(False)
        self.kill_processes(keep=[p.pid for p in self.instruments])
        self.clear_state()
        return t_fault

    def power_on(self):
        """Links up and the node's own services started afresh, as at boot; the time
        the links came up."""
        self.clear_state()
        t = self.set_links(True)
        self.boot()
        return t

    def tune_for_load(self):
        """Per-namespace limits for thousands of simultaneous connections (the kernel's
        defaults cap a listen queue at 4,096 and the client's ports at 28,000)."""
        self.cmd('sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 '
                 'net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1')

    def clear_state(self):
        """Kernel state a reboot loses (beyond the interface addresses of the topology)."""

    def boot(self):
        """Services this node starts at boot."""

    def terminate(self):
        for proc in self.helpers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.helpers = []
        if self.shell:
            self.kill_processes(keep_shell=True)
        Host.terminate(self)


def read_until(proc, accept, timeout, what):
    """Read proc's output lines until accept(line) returns something true; return that.
    Raises with the last lines it said if that does not come within timeout."""
    seen, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, end - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        found = accept(line)
        if found:
            return found
        seen.append(line.rstrip()[:200])
    raise RuntimeError('waited %.0fs for %s (exit %s); got: %s'
                       % (timeout, what, proc.poll(), ' | '.join(seen[-5:]) or 'nothing'))


class RealServer(ClusterHost):
    """An HTTP server behind IPVS direct routing: the VIP on lo, never answering ARP for it."""

    def __init__(self, name, vip=None, web_port=80, web_dir=None, **params):
        self.vip, self.web_port = vip, web_port
        self.nginx = NginxServer(name, web_port, web_dir or '/run/hatestbed-web/%s' % name)
        self.web = None
        ClusterHost.__init__(self, name, **params)

    def config(self, **params):
        r = ClusterHost.config(self, **params)
        self.configure_dr()
        self.tune_for_load()
        return r

    def configure_dr(self):
        # arp_ignore=1: answer ARP only for addresses on the asking interface;
        # arp_announce=2: never use the VIP as ARP source. Both per namespace.
        for scope in ('all', self.defaultIntf().name):
            self.cmd('sysctl -qw net.ipv4.conf.%s.arp_ignore=1 net.ipv4.conf.%s.arp_announce=2'
                     % (scope, scope))
        self.cmd('ip addr add %s/32 dev lo' % self.vip)

    def clear_state(self):
        self.cmd('ip addr flush dev lo scope global')

    def boot(self):
        self.configure_dr()
        self.start_web()
        self.wait_web()

    def start_web(self):
        self.nginx.prepare()
        self.web = self.popen(self.nginx.command(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, preexec_fn=raise_limits)
        self.helpers.append(self.web)

    def wait_web(self, timeout=60):
        self.nginx.wait_ready(self.web, timeout)

    def web_pids(self):
        """nginx's master and worker."""
        return [p for p in self.processes() if process_name(p) == 'nginx']


class Director(ClusterHost):
    """An LVS director: runs kernel IPVS through ipvsadm and may hold the VIP.

    The HA stack's daemons need some directories of their own (private_dirs,
    e.g. /etc/ha.d, /run): each is bound from <private_root>/<name>/ in the
    director's mount namespace, where the testbed also reads their logs.
    """

    def __init__(self, name, private_root=None, private_dirs=(), vip=None, **params):
        self.vip = vip
        self.root = Path(private_root or '/run') / name
        self.private_dirs = tuple(private_dirs)
        for d in self.private_dirs:
            (self.root / d.lstrip('/')).mkdir(parents=True, exist_ok=True)
        params['privateDirs'] = [(d, str(self.root / d.lstrip('/'))) for d in self.private_dirs]
        ClusterHost.__init__(self, name, **params)

    def private(self, path):
        """Host path of a file inside this director's private directories."""
        for d in self.private_dirs:
            if path == d or path.startswith(d + '/'):
                return str(self.root / path.lstrip('/'))
        raise ValueError('%s is not private to %s' % (path, self.name))

    def clear_state(self):
        self.cmd('ipvsadm -C')
        # the IPVS sync daemons are kernel threads: a reboot stops them
        self.cmd('ipvsadm --stop-daemon master 2>/dev/null; ipvsadm --stop-daemon backup 2>/dev/null')
        if self.vip:
            # whatever netmask the stack gave it
            self.cmd('ip -4 addr flush dev %s to %s/32' % (self.defaultIntf().name, self.vip))

    def fresh_run(self):
        """A private /run as after a boot: empty (the daemons add what they expect)."""
        if '/run' not in self.private_dirs:
            return
        for entry in Path(self.private('/run')).iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def ipvsadm(self, *args):
        return self.cmd('ipvsadm', *args).replace('\r\n', '\n')

    def install_service(self, config):
        """A static virtual service (no HA): what ldirectord would build."""
        self.ipvsadm('-C')
        for args in ipvs.service_commands(config):
            out = self.ipvsadm(*args)
            if out.strip():
                raise RuntimeError('%s: ipvsadm %s: %s' % (self.name, ' '.join(args), out.strip()))

    def snapshot(self, numeric=False):
        """`ipvsadm -L` as the paper shows it (`-L -n` with numeric=True)."""
        return self.ipvsadm('-L', '-n') if numeric else self.ipvsadm('-L')

    def table(self):
        return ipvs.parse(self.snapshot(numeric=True))

    def add_vip(self, vip, prefixlen=32):
        self.cmd('ip addr add %s/%d dev %s' % (vip, prefixlen, self.defaultIntf().name))

    def holds(self, address):
        return (' %s/' % address) in self.cmd('ip -o -4 addr show')


class Client(ClusterHost):
    """The paper's 'machine on the Internet' that sends requests to the VIP."""

    def config(self, **params):
        r = ClusterHost.config(self, **params)
        self.tune_for_load()
        return r
