"""The check every run is judged by: the network carried it (topo/analysis/checks.py),
on runs whose results say the hub was dead, lost packets, or answered no request."""
from types import SimpleNamespace

from topo.analysis import checks
from topo.engine.run import Measured, RunResult
from topo.engine.steps.traffic import ping_received

HUB_OK = {'observer': 'laicoy', 'from': 'client', 'to': 'laico2', 'sent': 10,
          'answered': 10, 'seen_by_observer': 10, 'verified': True}


def judged(hub=HUB_OK, drops=None, levels=()):
    m = Measured(hub_check=hub, fidelity={'network_drops': drops or {}},
                 levels=[dict(lv) for lv in levels])
    return checks.forwarded(SimpleNamespace(result=RunResult(measured=m)))


def level(ok, failed, target='vip', pattern='close', clients=100):
    return {'ok': ok, 'failed': failed, 'requests': ok + failed, 'target': target,
            'pattern': pattern, 'concurrency': clients}


def test_a_network_that_carried_the_run_passes():
    assert judged(levels=[level(1000, 0), level(999, 1, 'direct')]) == []
    assert judged(drops={'hub hub-eth1 tx drop': 1}) == []     # degraded, not dead


def test_a_hub_that_forwarded_nothing_before_the_measurement_fails():
    dead = dict(HUB_OK, answered=0, seen_by_observer=0, verified=False)
    [problem] = judged(dead)
    assert 'did not forward' in problem and '0 of 10 unicast pings' in problem
    assert 'laicoy saw 0' in problem


def test_real_machines_prove_it_by_answers_alone():
    dead = {'observer': None, 'from': 'client', 'to': 'laico2', 'sent': 10, 'answered': 3,
            'verified': False}
    [problem] = judged(dead)
    assert '3 of 10 unicast pings client -> laico2 answered' in problem
    assert 'saw' not in problem


def test_packets_lost_by_the_datapath_fail_the_run():
    """The 10,000-request ramp that said PASS with 0 of 40,000 answered: 'OVS datapath
    lost 241' was only a fidelity note then."""
    problems = judged(drops={'OVS datapath lost': 241},
                      levels=[level(0, 10000), level(0, 10000, 'direct', 'keepalive')])
    assert any('lost 241 packets' in p for p in problems)
    assert sum('every request of' in p for p in problems) == 2
    assert any('vip, close, 100 clients, failed (10000 of 10000)' in p for p in problems)


def test_a_level_that_lost_some_requests_is_not_dead():
    assert judged(levels=[level(1, 9999)]) == []


def test_ping_statistics_are_read():
    out = '--- 10.0.14.12 ping statistics ---\n10 packets transmitted, 7 received, 30% ' \
          'packet loss, time 459ms\n'
    assert ping_received(out) == 7
    assert ping_received('10 packets transmitted, 0 received, +10 errors, 100% packet '
                         'loss') == 0
    assert ping_received('') == 0 and ping_received(None) == 0
