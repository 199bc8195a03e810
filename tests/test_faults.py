"""Each fault's inject() and clear() on the network objects (a stand-in cluster that
records the calls: no kernel needed), and their targets checked before anything starts."""
import time

import pytest

from topo import faults
from topo.network.config import ClusterConfig


class RecordingCluster:
    """Records what a fault asks of the cluster; every call returns its time."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args):
            self.calls.append((name,) + args)
            return time.time()
        return call


@pytest.mark.parametrize('fault, target, injected, cleared', [
    ('power-off', 'laicoz', ('power_off', 'laicoz'), ('power_on', 'laicoz')),
    ('cable-pull', 'laicoy', ('unplug', 'laicoy'), ('plug', 'laicoy')),
    ('crash', 'laicoz', ('crash', 'laicoz'), ('restart_stack', 'laicoz')),
    ('partition', 'laicoz', ('cut', 'laicoz', 'laicoy'), ('heal',)),
    ('loss', 'laicoz', ('loss', 'laicoz', 30.0), ('loss', 'laicoz', 0)),
    ('hang', 'laico3', ('hang', 'laico3', True), ('hang', 'laico3', False)),
])
def test_inject_and_clear(fault, target, injected, cleared):
    cluster = RecordingCluster()
    f = faults.get(fault)(cluster, target)
    t = f.inject()
    assert cluster.calls == [injected] and f.injected_at == t
    assert f.clear() >= t and cluster.calls[-1] == cleared


def test_flap_pulls_and_plugs_count_times_and_ends_plugged():
    cluster = RecordingCluster()
    f = faults.get('flap')(cluster, 'laicoz', count=3, period=0.1)
    f.inject()
    f.clear()
    names = [c[0] for c in cluster.calls]
    assert names.count('unplug') == 3 and names[-1] == 'plug'
    assert names[:2] == ['unplug', 'plug']


def test_unknown_parameters_and_faults_are_refused():
    with pytest.raises(ValueError, match='takes no percent'):
        faults.get('cable-pull')(RecordingCluster(), 'laicoz', percent=3)
    with pytest.raises(KeyError, match='unknown fault'):
        faults.get('meteor')


@pytest.mark.parametrize('fault, target, ok', [
    ('crash', 'laico2', False), ('crash', 'laicoy', True), ('hang', 'laicoz', False),
    ('hang', 'laico4', True), ('power-off', 'client', False), ('power-off', 'laico2', True),
    ('partition', 'laicoz', True), ('loss', 'nosuch', False)])
def test_targets(fault, target, ok):
    cls = faults.get(fault)
    if ok:
        cls.check_target(target, ClusterConfig())
    else:
        with pytest.raises(ValueError):
            cls.check_target(target, ClusterConfig())
