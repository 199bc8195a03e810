"""A fault injected on a real machine heals by itself if the control node's session is
lost (topo/backends/machines/selfheal.py), and its clear() undoes it at once: proven on a veth pair
in a network namespace of this machine, the 'session' a shell killed right after the
fault."""
import os
import subprocess
import time
import uuid

import pytest

from topo.backends.machines import selfheal


pytestmark = pytest.mark.usefixtures('selfheal_in_tmp')


@pytest.fixture
def netns():
    name = 'hatb-heal-%s' % uuid.uuid4().hex[:6]
    subprocess.run(['ip', 'netns', 'add', name], check=True)
    try:
        subprocess.run(['ip', 'netns', 'exec', name, 'sh', '-c',
                        'ip link add hv0 type veth peer name hv1 && ip link set hv0 up '
                        '&& ip link set hv1 up'], check=True)
        yield name
    finally:
        subprocess.run(['ip', 'netns', 'del', name])


def up(ns):
    out = subprocess.run(['ip', 'netns', 'exec', ns, 'ip', '-o', 'link', 'show', 'hv0'],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    return 'state UP' in out or ',UP' in out.split('>')[0]


def in_ns(ns, command):
    return ['ip', 'netns', 'exec', ns, 'sh', '-c', command]


def test_the_fault_heals_itself_when_its_session_dies(netns):
    cmd = selfheal.inject('cable-%s' % netns, 'ip link set hv0 down', 'ip link set hv0 up', 1.5)
    session = subprocess.Popen(in_ns(netns, cmd + '; sleep 60'))
    time.sleep(0.5)
    assert not up(netns)
    session.kill()              # the control node's session is gone
    session.wait()
    deadline = time.monotonic() + 10
    while not up(netns) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert up(netns)
    assert not os.path.exists('%s/cable-%s.pid' % (selfheal.STATE, netns))


def test_clear_undoes_at_once_and_cancels_the_timer(netns):
    name = 'cable-%s' % netns
    subprocess.run(in_ns(netns, selfheal.inject(name, 'ip link set hv0 down',
                                                'ip link set hv0 up', 30)), check=True)
    assert not up(netns)
    # the timer's pid is written before the fault, so a clear() at once finds it
    pid = int(open('%s/%s.pid' % (selfheal.STATE, name)).read())
    group = lambda: subprocess.run(['ps', '-o', 'stat=', '-g', str(pid)], stdout=subprocess.PIPE,
                                   universal_newlines=True).stdout.split()
    assert group(), 'the pid file names no live timer'
    t0 = time.monotonic()
    subprocess.run(in_ns(netns, selfheal.clear(name, 'ip link set hv0 up')), check=True)
    assert up(netns) and time.monotonic() - t0 < 5
    time.sleep(0.2)
    states = group()
    assert all(s.startswith('Z') for s in states), states   # the timer and its sleep are gone
    with pytest.raises(ValueError):
        selfheal.inject(name, 'true', 'true', 0)
