"""The node roles of the paper's cluster, as Mininet hosts.

Mininet hosts have their own network and mount namespaces but share the
filesystem, the PID space and the host name: every node gets its own
/etc/hosts by a bind mount in its mount namespace, and a node's processes
are found by their network namespace (a `pkill` would hit the other nodes).
"""
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from mininet.node import Host

from topo import ipvs

ROOT = str(Path(__file__).resolve().parent.parent)


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
        Host.__init__(self, name, **params)

    def config(self, **params):
        r = Host.config(self, **params)
        if self.hosts_file:
            self.cmd('mount --bind', self.hosts_file, '/etc/hosts')
        return r

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

    def kill_processes(self, keep_shell=True):
        """SIGKILL everything running in this node (power-off semantics)."""
        pids = [p for p in self.processes() if not (keep_shell and p == self.pid)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

    def terminate(self):
        for proc in self.helpers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.helpers = []
        if self.shell:
            self.kill_processes(keep_shell=True)
        Host.terminate(self)


def read_line(proc, want, timeout):
    """Read proc's output until a line equal to want; raise with what it said if not."""
    seen, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, end - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip())
        if line.strip() == want:
            return seen
    raise RuntimeError('waited %.0fs for %r; got: %s' % (timeout, want, ' | '.join(seen[-5:]) or 'nothing'))


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
    """An LVS director: runs kernel IPVS through ipvsadm and may hold the VIP."""

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

    def add_vip(self, vip, prefixlen):
        self.cmd('ip addr add %s/%d dev %s' % (vip, prefixlen, self.defaultIntf().name))

    def holds(self, address):
        return (' %s/' % address) in self.cmd('ip -o -4 addr show')


class Client(ClusterHost):
    """The paper's 'machine on the Internet' that sends requests to the VIP."""
