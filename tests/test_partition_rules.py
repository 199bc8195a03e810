"""The partition on real machines (topo/backends/machines/cluster.py), applied in a network
namespace of this machine: the rules drop IP and ARP to and from the peer, print the
machine's time once in place, and the undo removes every one of them (twice is
harmless), printing the time the path opened again."""
import shutil
import subprocess
import time

import pytest

from topo.backends.machines.cluster import machine_time, partition_rules, partition_undo
from topo.backends.machines import selfheal

pytestmark = pytest.mark.usefixtures('selfheal_in_tmp')

needs_tables = pytest.mark.skipif(
    not (shutil.which('iptables-legacy') and shutil.which('arptables-legacy')),
    reason='iptables/arptables not installed (./testbed setup)')
PEER = '10.0.14.3'


def in_netns(script):
    p = subprocess.run(['unshare', '-n', 'sh', '-c', script], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert p.returncode == 0, p.stdout
    return p.stdout


def tables():
    return 'echo ==; iptables-legacy -S; echo ==; arptables-legacy -L -n'


@needs_tables
def test_the_rules_drop_ip_and_arp_from_the_peer_and_the_undo_removes_them():
    out = in_netns('%s; %s; %s; %s; %s; %s' % (
        partition_rules(PEER), tables(), partition_undo(PEER), tables(),
        partition_undo(PEER), tables()))
    # the rules' time, then (IP rules, ARP rules) with them, after the undo, after another
    parts = out.split('==')
    assert abs(float(parts[0].strip()) - time.time()) < 30     # the machine's clock
    for rule in ('-A INPUT -j hatb-partition', '-A hatb-partition -s %s/32 -j DROP' % PEER):
        assert rule in parts[1], parts[1]
    assert '-s %s' % PEER in parts[2]
    # what arrives is dropped, never what is sent (a sender's drop fails its sendmsg)
    assert 'OUTPUT -j' not in parts[1] and '-d %s' % PEER not in parts[1] + parts[2]
    for text in parts[3:]:          # (each undo's time line first)
        assert 'hatb-partition' not in text and PEER not in text, text


@needs_tables
def test_a_partition_undone_by_its_own_timer():
    """Injected through selfheal with a 1 s deadline: gone without any clear()."""
    script = '%s; sleep 3; iptables-legacy -S; arptables-legacy -L -n' % selfheal.inject(
        'partition-test', partition_rules(PEER), partition_undo(PEER), 1)
    out = in_netns(script)
    assert 'hatb-partition' not in out and '-s %s' % PEER not in out, out


def test_the_machine_time_is_put_on_the_control_clock():
    class Node:
        name, clock_offset_s = 'laicoz', 2.5
    assert machine_time(Node, '1000.75\n', 'rules') == 998.25
    with pytest.raises(RuntimeError, match='laicoz: rules: iptables: Chain already exists'):
        machine_time(Node, 'iptables: Chain already exists.\n', 'rules')
    with pytest.raises(RuntimeError, match='laicoz: rules: oops'):
        machine_time(Node, 'oops\n1000.75\n', 'rules')
