"""The node roles of the paper's cluster, as Mininet hosts.

Mininet hosts have their own network and mount namespaces but share the
filesystem, the PID space and the host name: every node gets its own
/etc/hosts by a bind mount in its mount namespace, and a node's processes
are found by their network namespace (a `pkill` would hit the other nodes).
"""
import grp
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from mininet.node import Host

from topo import ipvs

ROOT = str(Path(__file__).resolve().parent.parent)


def _chown_ha(path):
    """Owner hacluster:haclient, mode 750, as the heartbeat package sets them."""
    try:
        os.chown(path, pwd.getpwnam('hacluster').pw_uid, grp.getgrnam('haclient').gr_gid)
        os.chmod(path, 0o750)
    except KeyError:
        pass


def _copy_owners(src, dst):
    for dirpath, dirnames, filenames in os.walk(src):
        for name in [''] + dirnames:
            s = os.path.join(dirpath, name)
            st = os.lstat(s)
            os.lchown(os.path.join(dst, os.path.relpath(s, src)), st.st_uid, st.st_gid)


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

    def kill_processes(self, keep_shell=True, keep=()):
        """SIGKILL everything running in this node (power-off semantics)."""
        keep = set(keep) | ({self.pid} if keep_shell else set())
        pids = [p for p in self.processes() if p not in keep]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

    # -- power: the shell stays (it is the testbed's hand on the machine) --
    def power_off(self):
        """Links down, every process killed, kernel state gone: a switched-off PC.

        The links go first: the network must see the PC vanish at once, not
        after the (slow, under UML) walk through its processes. Returns the
        time the links were down: the moment of the fault.
        """
        for intf in self.intfList():
            if intf.name != 'lo':
                self.cmd('ip link set %s down' % intf.name)
        t_fault = time.time()
        self.kill_processes(keep=[p.pid for p in self.instruments])
        self.clear_state()
        return t_fault

    def power_on(self):
        """Links up and the node's own services started afresh, as at boot."""
        self.clear_state()
        for intf in self.intfList():
            if intf.name != 'lo':
                self.cmd('ip link set %s up' % intf.name)
        self.boot()

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


def read_line(proc, want, timeout):
    """Wait for the line `want` in proc's output."""
    return read_until(proc, lambda line: line.strip() == want, timeout, repr(want))


class RealServer(ClusterHost):
    """An HTTP server behind IPVS direct routing: the VIP on lo, never answering ARP for it."""

    def __init__(self, name, vip=None, web_port=80, **params):
        self.vip, self.web_port = vip, web_port
        self.web = None
        ClusterHost.__init__(self, name, **params)

    def config(self, **params):
        r = ClusterHost.config(self, **params)
        self.configure_dr()
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
        self.web = self.python('topo.webserver', '--name', self.name, '--port', self.web_port)

    def wait_web(self, timeout=60):
        read_line(self.web, 'listening', timeout)

    def stop_web(self):
        if self.web and self.web.poll() is None:
            self.web.kill()
            self.web.wait()
        self.web = None


class Director(ClusterHost):
    """An LVS director: runs kernel IPVS through ipvsadm and may hold the VIP.

    Its HA daemons need their own /etc/ha.d, /run, /var/lib/heartbeat and
    /var/log (two heartbeats on one filesystem would share pid files and
    node identity): each is bound from <private_root>/<name>/ in its mount
    namespace, where the testbed also reads its logs.
    """
    PRIVATE = ('/etc/ha.d', '/etc/keepalived', '/var/lib/heartbeat', '/var/log', '/run')

    def __init__(self, name, private_root=None, vip=None, **params):
        self.vip = vip
        self.root = Path(private_root or '/run') / name
        for d in self.PRIVATE:
            self._seed(d)
        params['privateDirs'] = [(d, str(self.root / d.lstrip('/'))) for d in self.PRIVATE]
        ClusterHost.__init__(self, name, **params)

    def private(self, path):
        """Host path of a file inside this director's private directories."""
        for d in self.PRIVATE:
            if path == d or path.startswith(d + '/'):
                return str(self.root / path.lstrip('/'))
        raise ValueError('%s is not private to %s' % (path, self.name))

    def _seed(self, d):
        """The package's own files a fresh private directory needs (not its configs)."""
        dst = self.root / d.lstrip('/')
        if d in ('/etc/ha.d', '/var/lib/heartbeat') and os.path.isdir(d):
            shutil.copytree(d, dst, symlinks=True, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns('ha.cf', 'haresources', 'authkeys',
                                                          'ldirectord.cf', 'hb_*'))
            _copy_owners(d, dst)
        dst.mkdir(parents=True, exist_ok=True)

    def clear_state(self):
        self.cmd('ipvsadm -C')
        if self.vip:
            # whatever netmask the stack gave it
            self.cmd('ip -4 addr flush dev %s to %s/32' % (self.defaultIntf().name, self.vip))

    def fresh_run(self):
        """/run as after a boot: empty but for the directories heartbeat expects."""
        run = self.root / 'run'
        for entry in run.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for sub in ('heartbeat/ccm', 'heartbeat/crm', 'heartbeat/dopd', 'heartbeat/rsctmp',
                    'crm', 'resource-agents', 'openvswitch'):
            (run / sub).mkdir(parents=True, exist_ok=True)
        for sub in ('heartbeat', 'heartbeat/ccm', 'heartbeat/crm', 'heartbeat/dopd',
                    'heartbeat/rsctmp', 'crm'):
            _chown_ha(run / sub)

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
