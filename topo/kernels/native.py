"""The host's own kernel: IPVS and the Open vSwitch datapath as its modules
(an ordinary Ubuntu or Debian kernel loads them on demand)."""
import shutil
import subprocess
from pathlib import Path

from topo.kernels import KernelMode, register
from topo.network.config import SCHEDULER_MODULES

# Modules the testbed needs; loaded up front so no daemon waits on autoload.
MODULES = ['ip_vs'] + SCHEDULER_MODULES + ['openvswitch', 'veth', 'sch_netem', 'ipip']


def _modprobe(module):
    return subprocess.run(['modprobe', module], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def native_missing():
    """What the running kernel lacks for the testbed (empty list: native works)."""
    if shutil.which('modprobe'):
        for mod in MODULES:
            _modprobe(mod)
    missing = []
    if not Path('/proc/net/ip_vs').exists():
        missing.append('IPVS (ip_vs)')
    if not Path('/sys/module/openvswitch').exists():
        missing.append('Open vSwitch datapath (openvswitch)')
    return missing


@register
class Native(KernelMode):
    name = 'native'
    description = 'the running kernel (needs IPVS and OVS)'
    rank = 0

    @classmethod
    def missing(cls):
        lacks = native_missing()
        return ['the running kernel lacks %s' % ' and '.join(lacks)] if lacks else []
