"""Hardware profiles: the paper's 2003 machines (its Table 1) on today's kernel.

A profile says what each machine and cable was; a node backend applies it (the
Mininet backend: each link to the hub a TCLink at the profile's rate, each node's
processes in a cgroup v2 group with a CPU share and a memory cap, see
topo/backends/mininet/cgroups.py).

CPU caps are relative: a machine of `mhz` gets mhz / REFERENCE_MHZ of one CPU
(of the kernel the testbed runs on: under UML, one virtual CPU shared by every
node). What a cap really delivers is measured in every run that uses a profile
(a busy loop in the node's group, a bulk download over a cable).
"""
from dataclasses import asdict, dataclass

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
