"""Hardware profiles: the paper's 2003 machines (its Table 1) on today's kernel.

Each link to the hub is a Mininet TCLink at the profile's rate (HTB); each node's
processes go into a cgroup of its own with a CPU share and a memory cap.
Cgroup v2 is set directly (Debian 12's Mininet 2.3.0 `CPULimitedHost` knows
only v1): in UML the testbed mounts cgroup2 itself; natively it uses the
host's /sys/fs/cgroup when that is cgroup2, and refuses otherwise.

CPU caps are relative: a machine of `mhz` gets mhz / REFERENCE_MHZ of one CPU
(of the kernel the testbed runs on: under UML, one virtual CPU shared by every
node). What a cap really delivers is measured (a busy loop in the node's
group), as is the link rate (a bulk download): see Limits.measure_cpu and
Cluster.measure_link.
"""
import os
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from topo.network.config import ConfigError

REFERENCE_MHZ = 1000        # the clock that would get one whole CPU
CPU_PERIOD_US = 100000
# HTB sends at most about burst x HZ per second (UML: HZ=100); Mininet's default
# 15 kB burst allows ~12 Mbit/s there. Enough headroom for 10 Mbit/s, measured.
HTB_BURST = '15k'


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    link_mbit: float
    director_mhz: int
    director_mem_mb: int
    server_mhz: int
    server_mem_mb: int

    def cpu_share(self, role):
        return (self.director_mhz if role == 'director' else self.server_mhz) / REFERENCE_MHZ

    def mem_mb(self, role):
        return self.director_mem_mb if role == 'director' else self.server_mem_mb

    def cpu_max(self, role):
        """cgroup v2 cpu.max for the role: 'quota period' in µs."""
        return '%d %d' % (round(self.cpu_share(role) * CPU_PERIOD_US), CPU_PERIOD_US)

    def as_dict(self):
        return dict(asdict(self), reference_mhz=REFERENCE_MHZ,
                    director_cpu_share=self.cpu_share('director'),
                    server_cpu_share=self.cpu_share('server'))


PROFILES = {
    '2003': Profile('2003', "the paper's Table 1: directors Pentium 100 / 32 MB, real servers "
                    'Pentium 233 / 64 MB, a 10 Mbit/s Ethernet hub',
                    link_mbit=10, director_mhz=100, director_mem_mb=32,
                    server_mhz=233, server_mem_mb=64),
}


def get(name):
    if name not in PROFILES:
        raise ConfigError('unknown hardware profile %r: choose one of %s'
                          % (name, ', '.join(sorted(PROFILES))))
    return PROFILES[name]


def _fs_type(path):
    with open('/proc/mounts') as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if mnt == path:
                return fstype
    return None


class Limits:
    """One cgroup-v2 group per capped node, under a group of this testbed run."""

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
        self.base = root / ('hatestbed-%d' % os.getpid())
        self.groups = {}
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
            (g / 'cpu.max').write_text(self.profile.cpu_max(role))
            (g / 'memory.max').write_text(str(self.profile.mem_mb(role) << 20))
            if (g / 'memory.swap.max').exists():        # no swap: the cap is the memory
                (g / 'memory.swap.max').write_text('0')
            self.groups[node] = g
        return g

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
