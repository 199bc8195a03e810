"""A hardware profile's CPU and memory caps on this machine: one cgroup-v2 group
per capped node, under a group of this testbed run.

Cgroup v2 is set directly (Debian 12's Mininet 2.3.0 `CPULimitedHost` knows
only v1): in UML the testbed mounts cgroup2 itself; natively it uses the
host's /sys/fs/cgroup when that is cgroup2, and refuses otherwise.
"""
import subprocess
import time
from pathlib import Path

from topo.kernels import run_id
from topo.network.config import ConfigError


def _fs_type(path):
    with open('/proc/mounts') as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if mnt == path:
                return fstype
    return None


class Limits:
    """One cgroup-v2 group per capped node, under a group of this testbed run (profile
    None: groups without caps, until a node is starved)."""

    def __init__(self, profile, workdir):
        self.profile = profile
        self.mounted = None
        root = Path('/sys/fs/cgroup')
        fstype = _fs_type(str(root))
        if fstype is None:                  # UML: nothing mounted yet; the testbed owns it
            root = Path(workdir) / 'cgroup'
            root.mkdir(parents=True, exist_ok=True)
            subprocess.run(['mount', '-t', 'cgroup2', 'none', str(root)], check=True)
            self.mounted = root
        elif fstype != 'cgroup2':
            raise ConfigError('--hardware needs cgroup v2 (this host mounts %s at /sys/fs/cgroup;'
                              ' boot with systemd.unified_cgroup_hierarchy=1, or use '
                              '--sandbox uml)' % fstype)
        self.root = root
        self.base = root / ('hatestbed-%s' % run_id())
        self.groups = {}
        self.hogs = {}          # node -> the busy loop that starves it
        self.enable(root)
        self.base.mkdir(exist_ok=True)
        self.enable(self.base)

    @staticmethod
    def enable(group):
        ctl = group / 'cgroup.subtree_control'
        have = (group / 'cgroup.controllers').read_text().split()
        missing = {'cpu', 'memory'} - set(have)
        if missing:
            raise ConfigError('--hardware: the cgroup %s lacks the %s controller(s)'
                              % (group, ', '.join(sorted(missing))))
        ctl.write_text('+cpu +memory')

    def group(self, node, role):
        g = self.groups.get(node)
        if g is None:
            g = self.base / node
            g.mkdir(exist_ok=True)
            (g / 'cpu.max').write_text(self.cpu_max(role))
            if self.profile:
                (g / 'memory.max').write_text(str(self.profile.mem_mb(role) << 20))
                if (g / 'memory.swap.max').exists():        # no swap: the cap is the memory
                    (g / 'memory.swap.max').write_text('0')
            self.groups[node] = g
        return g

    def cpu_max(self, role):
        return self.profile.cpu_max(role) if self.profile else 'max'

    def starve(self, node, role, share, period_s):
        """The node's group capped at share x period of one CPU per period, a busy loop
        in it: the loop eats every period's quota, so the node's processes run in a
        burst each period and wait out the rest, as on an overloaded machine."""
        g = self.group(node, role)
        self.feed(node, role)           # (starved again: one loop, the new cap)
        hog = subprocess.Popen(['sh', '-c', 'while :; do :; done'])
        self.hogs[node] = hog
        (g / 'cgroup.procs').write_text(str(hog.pid))
        period = int(period_s * 1e6)
        (g / 'cpu.max').write_text('%d %d' % (max(1000, int(share * period)), period))

    def feed(self, node, role):
        """The node's cap back to its profile's (or none), the loop gone."""
        hog = self.hogs.pop(node, None)
        (self.group(node, role) / 'cpu.max').write_text(self.cpu_max(role))
        if hog:
            hog.kill()
            hog.wait()

    def move(self, node, role, pids):
        """Put the processes in the node's group (their children follow them)."""
        procs = self.group(node, role) / 'cgroup.procs'
        for pid in pids:
            try:
                procs.write_text(str(pid))
            except OSError:         # gone in the meantime
                pass

    def usage(self):
        """What each group used so far: CPU seconds, throttled periods, peak memory."""
        out = {}
        for node, g in self.groups.items():
            stat = dict(line.split() for line in (g / 'cpu.stat').read_text().splitlines())
            peak = g / 'memory.peak'
            out[node] = {'cpu_s': int(stat['usage_usec']) / 1e6,
                         'throttled_periods': int(stat.get('nr_throttled', 0)),
                         'memory_peak_mb': round(int(peak.read_text()) / 2**20, 1)
                         if peak.exists() else None,
                         'oom_kills': int(dict(line.split() for line in
                                               (g / 'memory.events').read_text().splitlines())
                                          .get('oom_kill', 0))}
        return out

    def measure_cpu(self, role, seconds=2.0):
        """The CPU share a busy loop really gets under the role's cap (nothing else in it)."""
        g = self.base / ('calibrate-%s' % role)
        g.mkdir(exist_ok=True)
        (g / 'cpu.max').write_text(self.profile.cpu_max(role))
        proc = subprocess.Popen(['sh', '-c', 'while :; do :; done'])
        try:
            (g / 'cgroup.procs').write_text(str(proc.pid))
            before, t0 = self._usage_s(g), time.monotonic()
            time.sleep(seconds)
            used, wall = self._usage_s(g) - before, time.monotonic() - t0
        finally:
            proc.kill()
            proc.wait()
        g.rmdir()
        return round(used / wall, 3)

    @staticmethod
    def _usage_s(g):
        for line in (g / 'cpu.stat').read_text().splitlines():
            if line.startswith('usage_usec'):
                return int(line.split()[1]) / 1e6
        return 0.0

    def close(self):
        """Processes back to the root group, groups removed, our mount undone."""
        for hog in self.hogs.values():
            hog.kill()
            hog.wait()
        self.hogs = {}
        for g in list(self.groups.values()) + [self.base]:
            try:
                for pid in (g / 'cgroup.procs').read_text().split():
                    try:
                        (self.root / 'cgroup.procs').write_text(pid)
                    except OSError:
                        pass
                g.rmdir()
            except OSError:
                pass
        self.groups = {}
        if self.mounted:
            subprocess.run(['umount', str(self.mounted)], check=False)
            self.mounted = None
