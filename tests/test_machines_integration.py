"""Integration: machines of their own on this host (experiments/machines.py), one UML
kernel each, reached over SSH; their writes never reach the host's files; `down`
leaves nothing behind."""
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import PYTHON, ROOT
from topo import inventory
from topo.kernels.uml import UML_MODULES

MACHINES = str(ROOT / 'experiments' / 'machines.py')
needs_sshd = pytest.mark.skipif(not Path('/usr/sbin/sshd').exists(),
                                reason='openssh-server not installed (./testbed setup)')


def machines(*args, timeout=600):
    p = subprocess.run([PYTHON, MACHINES] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=timeout)
    print(p.stdout)
    return p


@needs_sshd
def test_up_reach_power_cycle_down(tmp_path):
    inv = tmp_path / 'machines.yml'
    marker = '/etc/hatestbed-machine-test'
    assert not Path(marker).exists()
    try:
        p = machines('up', '--inventory', str(inv), '--servers', '1')
        assert p.returncode == 0
        loaded = inventory.load(inv)
        assert list(loaded.machines) == ['laicoz', 'laicoy', 'laico2', 'client']
        assert 'power-off laicoz' in loaded.command('power-off', 'laicoz')
        for name, m in loaded.machines.items():
            p = machines('run', name, 'hostname; uname -r; ip -o -4 addr show eth0; '
                         'touch %s; ipvsadm -L -n | head -1' % marker)
            assert p.returncode == 0, p.stdout
            lines = p.stdout.splitlines()
            assert lines[0] == name
            assert lines[1] in os.listdir(UML_MODULES)      # a kernel of its own: UML's
            assert m.address + '/24' in p.stdout and 'IP Virtual Server' in p.stdout
        assert not Path(marker).exists()        # the machines' writes stay theirs
        assert machines('run', 'laico2', 'echo kept > /etc/hatb-kept; sync').returncode == 0
        # a power-off is the machine's kernel killed; a power-on boots it again
        assert machines('power-off', 'laico2').returncode == 0
        assert machines('run', 'laico2', 'true', timeout=60).returncode != 0
        assert machines('power-on', 'laico2').returncode == 0
        for _ in range(60):
            if machines('run', 'laico2', 'hostname').stdout.strip() == 'laico2':
                break
            time.sleep(2)
        else:
            pytest.fail('laico2 did not come back after its power-on')
        # its own disk: what it synced is still there, its host key the same (no warning)
        p = machines('run', 'laico2', 'cat /etc/hatb-kept')
        assert p.returncode == 0 and p.stdout.strip() == 'kept', p.stdout
    finally:
        assert machines('down').returncode == 0
    links = subprocess.run(['ip', '-o', 'link'], stdout=subprocess.PIPE,
                           universal_newlines=True).stdout
    assert 'hatb-' not in links
    assert subprocess.run(['pgrep', '-f', 'umid=hatb-'], stdout=subprocess.PIPE).stdout == b''
    assert not Path('/var/tmp/hatestbed-machines').exists()
    assert yaml.safe_load(inv.read_text())['all']['children']['directors']
