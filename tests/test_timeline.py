"""Failover timelines from recorded events and probes."""
import csv
import json

import pytest

from topo.analysis import report, timeline
from topo.engine.run import FaultRecord
from topo.network.config import ClusterConfig
from topo.ha.stacks.heartbeat import HeartbeatStack
from topo.ha.stacks.keepalived import KeepalivedStack

SVC, REALS = '10.0.14.146:80', ['10.0.14.12:80', '10.0.14.13:80', '10.0.14.14:80']
DEAD = r'node (laicoz|laicoy): is dead'


def ev(t, kind, node='laicoy', **kw):
    return dict(kw, t=t, kind=kind, node=node)


def probe(t, ok, latency=0.01, stage='laicoz off', server='laico2'):
    return {'t': t, 'ok': ok, 'latency_s': latency, 'stage': stage,
            'server': server if ok else ''}


def test_synthetic_director_failover():
    events = [ev(99.0, 'vip', held=False),
              ev(101.0, 'log', line='WARN: node laicoz: is dead'),
              ev(103.0, 'ipvs', table={SVC: []}),
              ev(104.0, 'ipvs', table={SVC: REALS[:1]}),
              ev(104.5, 'vip', held=True),
              ev(106.0, 'ipvs', table={SVC: REALS}),
              ev(104.9, 'vip', held=True, node='laicoz')]     # another node: ignored
    probes = [probe(99.9, True), probe(100.2, False, 1.0), probe(104.0, False, 1.0),
              probe(104.6, True, 0.02), probe(105.0, True)]
    t = timeline.director_failover(events, probes, 100.0, 'laicoy', SVC, REALS, DEAD)
    assert t == {'false_takeover': False, 'client_entry': [], 'detected_s': 1.0,
                 'fenced_s': None, 'vip_taken_s': 4.5, 'client_moved_s': None, 'first_real_server_s': 4.0,
                 'table_ready_s': 6.0, 'first_ok_s': 4.62, 'outage_s': 4.62,
                 'failed_requests': 2, 'last_failure_s': 4.0}
    # a stack that fences: the primary's fencing is the step between detection and the
    # VIP (a fence of the backup itself, or one before the fault, is not)
    fences = [ev(95.0, 'fence', action='off', node='laicoz'),
              ev(102.0, 'fence', action='off', node='laicoy'),
              ev(103.25, 'fence', action='off', node='laicoz')]
    t = timeline.director_failover(events + fences, probes, 100.0, 'laicoy', SVC, REALS, DEAD)
    assert t['fenced_s'] == 3.25 and t['vip_taken_s'] == 4.5
    # the client's entry for the VIP: to laicoz's MAC again (before the fault, or a
    # STALE state change) is not the move; to laicoy's is
    client = [ev(98.0, 'arp', mac='00:06', node='client'),
              ev(104.55, 'arp', mac='00:05', state='STALE', node='client'),
              ev(104.6, 'arp', mac='00:05', state='DELAY', node='client')]
    t = timeline.director_failover(events + client, probes, 100.0, 'laicoy', SVC, REALS, DEAD,
                                   macs={'00:06': 'laicoz', '00:05': 'laicoy'})
    assert t['client_moved_s'] == 4.55
    assert t['client_entry'] == [[4.55, 'STALE', 'laicoy']]


def test_a_lost_announcement_leaves_the_client_on_the_old_owner_until_its_probes_fail():
    macs = {'00:06': 'laicoz', '00:05': 'laicoy'}
    events = [ev(99.0, 'arp', mac='00:06', state='REACHABLE', node='client'),
              ev(100.6, 'vip', held=True),
              ev(121.0, 'arp', mac='00:06', state='DELAY', node='client'),
              ev(126.0, 'arp', mac='00:06', state='PROBE', node='client'),
              ev(129.0, 'arp', mac=None, state='FAILED', node='client'),
              ev(129.05, 'arp', mac='00:05', state='REACHABLE', node='client'),
              ev(140.0, 'arp', mac='00:05', state='STALE', node='client')]
    t = timeline.director_failover(events, [probe(129.1, True)], 100.0, 'laicoy', SVC, REALS,
                                   DEAD, macs=macs)
    assert t['vip_taken_s'] == 0.6 and t['client_moved_s'] == 29.05
    assert t['client_entry'] == [[21.0, 'DELAY', 'laicoz'], [26.0, 'PROBE', 'laicoz'],
                                 [29.0, 'FAILED', None], [29.05, 'REACHABLE', 'laicoy']]
    assert report.entry_text(t['client_entry']) == (
        'DELAY laicoz 21.0, PROBE 26.0, FAILED - 29.0, REACHABLE laicoy 29.05')
    # the failback: the client follows laicoz back only when its entry fails again
    back = events + [ev(150.0, 'arp', mac='00:05', state='PROBE', node='client'),
                     ev(153.0, 'arp', mac='00:06', state='REACHABLE', node='client')]
    t = timeline.failback(back, [], 145.0, 'laicoz', 'laicoy', SVC, REALS, False, macs=macs)
    assert t['client_moved_s'] == 8.0 and [e[1] for e in t['client_entry']] == [
        'PROBE', 'REACHABLE']


def test_warm_backup_has_its_table_at_the_fault():
    events = [ev(90.0, 'ipvs', table={SVC: REALS}), ev(100.4, 'vip', held=True)]
    t = timeline.director_failover(events, [probe(100.5, True)], 100.0, 'laicoy', SVC, REALS,
                                   DEAD)
    assert t['table_ready_s'] == 0.0 and t['first_real_server_s'] == 0.0
    assert t['vip_taken_s'] == 0.4


def test_nothing_observed_is_none_not_zero():
    t = timeline.director_failover([], [probe(101, False)], 100.0, 'laicoy', SVC, REALS, DEAD)
    assert t['detected_s'] is None and t['first_ok_s'] is None and t['outage_s'] is None
    assert t['failed_requests'] == 1


def test_synthetic_real_server_removal():
    events = [ev(50.5, 'log', node='laicoz', line='Deleted real server: 10.0.14.12:80 (x)'),
              ev(50.6, 'ipvs', node='laicoz', table={SVC: REALS[1:]}),
              ev(60.8, 'ipvs', node='laicoz', table={SVC: REALS})]
    probes = [probe(50.1, False, 1.0), probe(50.2, True), probe(50.4, False, 1.0),
              probe(51, True)]
    t = timeline.real_server_removal(events, probes, 50.0, 60.0, 'laicoz', SVC, REALS[0],
                                     HeartbeatStack.removed_pattern)
    assert t['detected_s'] == 0.5 and t['table_ready_s'] == 0.6
    assert t['outage_s'] == 0.4 and t['failed_requests'] == 2
    assert t['readded_after_power_on_s'] == 0.8 and t['vip_taken_s'] is None


@pytest.mark.parametrize('stack, line, other', [
    (HeartbeatStack, 'Deleted real server: 10.0.14.12:80 (10.0.14.146:80)',
     'Deleted real server: 10.0.14.12:8080 (10.0.14.146:80)'),
    (KeepalivedStack, 'Removing service [10.0.14.12]:tcp:80 from VS [10.0.14.146]:tcp:80',
     'Removing service [10.0.14.13]:tcp:80 from VS [10.0.14.146]:tcp:80')])
def test_each_stack_names_the_removal_of_a_real_server(stack, line, other):
    """Detection comes from the stack's own log line for that server, not another's."""
    events = [ev(50.2, 'log', node='laicoz', line=other), ev(50.5, 'log', node='laicoz', line=line),
              ev(51.0, 'ipvs', node='laicoz', table={SVC: REALS[1:]})]
    t = timeline.real_server_removal(events, [], 50.0, None, 'laicoz', SVC, REALS[0],
                                     stack.removed_pattern)
    assert t['detected_s'] == 0.5 and t['table_ready_s'] == 1.0


def test_failback_outage_is_the_failure_window():
    probes = [probe(200.5, True), probe(204.0, False), probe(209.5, False), probe(210, True)]
    events = [ev(204.0, 'vip', held=False), ev(210.0, 'vip', node='laicoz', held=True)]
    t = timeline.failback(events, probes, 200.0, 'laicoz', 'laicoy', SVC, REALS, False)
    assert t['outage_s'] == 5.5 and t['backup_released_s'] == 4.0 and t['vip_taken_s'] == 10.0


def test_captured_uml_run(data):
    """The real events and probes of a heartbeat run: the steps come in order."""
    run = json.loads(data('heartbeat-run/run.json'))
    events = [json.loads(line) for line in data('heartbeat-run/events.jsonl').splitlines()]
    probes = [dict(r, t=float(r['t']), ok=r['ok'] == 'True', latency_s=float(r['latency_s']))
              for r in csv.DictReader(data('heartbeat-run/probe.csv').splitlines())]
    marks = run['marks']
    t = timeline.director_failover(events, probes, marks['laicoz_off'], 'laicoy', SVC, REALS,
                                   DEAD, t_end=marks['laicoz_on'])
    deadtime = run['parameters']['stack']['deadtime_s']
    assert deadtime <= t['detected_s'] < deadtime + 1.0
    assert t['detected_s'] < t['first_real_server_s'] <= t['table_ready_s']
    assert t['vip_taken_s'] <= t['first_ok_s'] == t['outage_s']
    assert t['failed_requests'] > 0
    by_stage = timeline.answers_by_stage(probes)
    assert set(by_stage['laico2 on']) == {'laico2', 'laico3', 'laico4'}
    assert 'laico2' not in by_stage['laico2 off']


def test_split_after_takeover():
    probes = [probe(10 + i * 0.05, True, server=['laico2', 'laico3', 'laico4'][i % 3])
              for i in range(30)] + [probe(9.0, False)]
    t = timeline.split_after(probes, 10.0, 12.0, ['laico2', 'laico3', 'laico4'])
    assert t == {'answers': {'laico2': 10, 'laico3': 10, 'laico4': 10}, 'failed': 0,
                 'spread': 0, 'even': True}
    # answers from a server the client does not know are no even split
    odd = [probe(10 + i * 0.05, True, server='None') for i in range(30)]
    assert timeline.split_after(odd, 10.0, 12.0, ['laico2', 'laico3', 'laico4'])['even'] is False
    lopsided = [probe(10 + i * 0.05, True, server='laico2') for i in range(10)]
    assert timeline.split_after(lopsided + probes, 10.0, 12.0,
                                ['laico2', 'laico3', 'laico4'])['even'] is False
    # requests sent before the window (to the dead director) and answered in it, their
    # SYN sent again to the new owner: they took turns of its round robin, and count
    servers = ['laico2', 'laico3', 'laico4']
    late = [probe(9.0 + i * 0.05, True, latency=1.05 + i * 0.1, server='laico2')
            for i in range(3)]
    rest = [probe(10.1 + i * 0.05, True, server=servers[i % 3])
            for i in range(30) if i not in (0, 3, 6)]
    t = timeline.split_after(late + rest, 10.0, 12.0, servers)
    assert t['answers'] == {'laico2': 10, 'laico3': 10, 'laico4': 10} and t['even'] is True
    # requests sent into the outage and given up at the prober's 1 s timeout, whose SYNs
    # sent again as it ended took turns of the new owner's round robin unanswered (two
    # for laico3, one for laico4): the window opens once the last of them is given up
    ghosts = [probe(9.3, False, latency=1.0), probe(9.4, False, latency=1.0),
              probe(9.5, False, latency=1.0)]
    after = [probe(10.6 + i * 0.05, True, server=servers[i % 3]) for i in range(30)]
    during = [probe(10.05, True, server='laico2'), probe(10.2, True, server='laico2'),
              probe(10.35, True, server='laico4'), probe(10.45, True, server='laico2')]
    t = timeline.split_after(ghosts + during + after, 10.0, 12.5, servers)
    assert t['answers'] == {'laico2': 10, 'laico3': 10, 'laico4': 10} and t['even'] is True
    # counted from the first answer, the turns the ghosts took showed as a spread of 3
    assert timeline.split_after(during + after, 10.0, 12.5, servers)['spread'] == 3


HB = HeartbeatStack(ClusterConfig())


def decompose(events, probes, fault, target='laicoz', t0=100.0, cleared=120.0, end=140.0):
    return timeline.decompose(events, probes, FaultRecord(fault, target, t0, cleared), HB,
                              ClusterConfig(), end, 0.05)


def test_every_fault_is_decomposed_the_same_way_a_director():
    """A cable pull of laicoz: noticed, laicoy owns the VIP, its table is complete, and
    the client is answered for good; measured from the same history as any fault."""
    events = [ev(90.0, 'vip', node='laicoz', held=True), ev(90.0, 'ipvs', node='laicoz',
                                                            table={SVC: REALS}),
              ev(100.0, 'link', node='laicoz', up=False),
              ev(101.2, 'log', line='WARN: node laicoz: is dead'),
              ev(104.0, 'vip', held=True), ev(105.0, 'ipvs', table={SVC: REALS[:2]}),
              ev(107.0, 'ipvs', table={SVC: REALS})]
    probes = [probe(100.5, False, 1.0), probe(105.5, True, 0.1), probe(106.0, False, 1.0),
              probe(107.5, True, 0.2), probe(108.0, True)]
    d = decompose(events, probes, 'cable-pull')
    assert (d['noticed_s'], d['owner_change_s'], d['table_complete_s']) == (1.2, 4.0, 7.0)
    assert d['service_back_s'] == 7.7 and d['failed_requests'] == 2
    assert d['dual_owner_s'] == 0 and d['final_owner'] == 'laicoy'


def test_every_fault_is_decomposed_the_same_way_a_real_server():
    """A hung real server: noticed by the removal line, no owner change, the table
    complete without it, and the service back after the last failed request."""
    events = [ev(90.0, 'vip', node='laicoz', held=True),
              ev(102.0, 'log', node='laicoz', line='Deleted real server: 10.0.14.12:80 (x)'),
              ev(102.1, 'ipvs', node='laicoz', table={SVC: REALS[1:]})]
    probes = [probe(100.1, True), probe(100.5, False, 1.0), probe(101.5, False, 1.0),
              probe(102.5, True, 0.05)]
    d = decompose(events, probes, 'hang', target='laico2')
    assert (d['noticed_s'], d['owner_change_s'], d['table_complete_s']) == (2.0, None, 2.1)
    assert d['service_back_s'] == 2.55 and d['final_owner'] == 'laicoz'
    # no failed request: the service never went away
    assert decompose(events, [probe(100.1, True)], 'hang', target='laico2')['service_back_s'] == 0


def test_analyse_decomposes_every_fault_of_a_history():
    from topo.engine.run import Burst, History
    h = History(events=[ev(90.0, 'vip', node='laicoz', held=True)], probes=[probe(95, True)],
                faults=[FaultRecord('loss', 'laicoz', 100.0, 110.0),
                        FaultRecord('crash', 'laicoy', 111.0, 115.0)], t_end=120.0)
    a = timeline.analyse(h, HB, ClusterConfig(), bursts=[Burst(9, {'laico2': 9})])
    assert [d['fault'] for d in a['fault_timelines']] == ['loss', 'crash']
    assert a['answers_per_stage']['9 requests'] == {'laico2': 9}     # any burst, by its size
    assert 'failover' not in a          # no power-off of the primary: no paper failover


@pytest.mark.parametrize('fault, measured', [('crash', True), ('stop', True),
                                             ('power-off', True), ('cable-pull', False)])
def test_a_director_lost_to_a_crash_or_a_planned_stop_is_a_failover_too(fault, measured):
    """The primary's power-off, crash and graceful stop all hand the service to the
    backup: each is measured as the paper's failover; a pulled cable is a fault only."""
    from topo.engine.run import History
    h = History(events=[ev(90.0, 'vip', node='laicoz', held=True),
                        ev(101.0, 'vip', node='laicoy', held=True),
                        ev(101.2, 'ipvs', node='laicoy', table={SVC: REALS})],
                probes=[probe(99, True), probe(100.5, False, 1.0), probe(101.5, True, 0.01)],
                faults=[FaultRecord(fault, 'laicoz', 100.0, 110.0)], t_end=120.0)
    a = timeline.analyse(h, HB, ClusterConfig())
    assert ('failover' in a) == measured
    if measured:
        assert a['failover']['vip_taken_s'] == 1.0 and a['failover']['table_ready_s'] == 1.2
