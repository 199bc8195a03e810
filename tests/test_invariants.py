"""The invariants every run watches, computed from captured-style event streams."""
from topo.analysis import invariants, timeline
from topo.analysis.checks import invariant_problems

D = ('laicoz', 'laicoy')
MACS = {'00:00:00:00:00:01': 'laicoz', '00:00:00:00:00:02': 'laicoy'}


def ev(t, node, kind, **kw):
    return dict(kw, t=t, node=node, kind=kind)


def vip(t, node, held):
    return ev(t, node, 'vip', held=held)


def test_clean_failover_has_one_owner_then_a_gap_then_one():
    events = [vip(10, 'laicoz', True), ev(50, 'laicoz', 'link', up=False),
              vip(50.5, 'laicoz', False), vip(55, 'laicoy', True)]
    inv = invariants.vip_ownership(events, D, 'laicoz', 60, first_fault=50)
    assert inv['dual_owner_s'] == 0 and inv['false_takeovers'] == []
    # unplugged at 50 (the kernel still had the VIP until 50.5): nobody served 50..55
    assert inv['no_owner'] == [[40.0, 45.0]] and inv['no_owner_s'] == 5.0


def test_split_brain_is_measured_with_its_intervals():
    """A cable pull: the isolated laicoz keeps the VIP, laicoy takes it; after the plug
    both hold it until heartbeat gives everything up, then nobody does."""
    events = [vip(0, 'laicoz', True), ev(10, 'laicoz', 'link', up=False),
              vip(19.6, 'laicoy', True), ev(18, 'laicoz', 'link', up=True),
              vip(35, 'laicoy', False), vip(35.2, 'laicoz', False), vip(67, 'laicoz', True)]
    inv = invariants.vip_ownership(events, D, 'laicoz', 80, first_fault=10)
    assert inv['dual_owner'] == [[19.6, 35.0]] and inv['dual_owner_s'] == 15.4
    assert inv['no_owner'] == [[10.0, 18.0], [35.2, 67.0]]
    assert inv['false_takeovers'] == []


def test_a_takeover_before_any_fault_is_false_and_fails_the_run():
    events = [vip(0, 'laicoz', True), vip(30, 'laicoy', True), vip(30.4, 'laicoz', False)]
    inv = invariants.vip_ownership(events, D, 'laicoz', 60, first_fault=40)
    assert inv['false_takeovers'] == [{'node': 'laicoy', 't': 30.0}]
    problems = invariant_problems({'invariants': inv}, 0.25)
    assert any('false takeover' in p for p in problems)
    # ... and the failover after it is no failover of 0.03 s
    fo = timeline.director_failover(events, [{'t': 40.01, 'ok': True, 'latency_s': 0.02}],
                                    40, 'laicoy', 'svc', [], None)
    assert fo['false_takeover'] is True and fo['outage_s'] is None


def test_a_short_handover_overlap_is_tolerated_a_long_one_is_not():
    events = [vip(0, 'laicoz', True), vip(10, 'laicoy', True), vip(10.1, 'laicoz', False)]
    inv = invariants.vip_ownership(events, D, 'laicoz', 20, first_fault=5)
    assert inv['dual_owner_s'] == 0.1 and invariant_problems({'invariants': inv}, 0.25) == []
    events[2] = vip(12, 'laicoz', False)
    a = {'invariants': invariants.vip_ownership(events, D, 'laicoz', 20, first_fault=5)}
    assert any('two directors' in p for p in invariant_problems(a, 0.25))
    assert invariant_problems(a, 0.25, dual_owner_allowed=True) == []


def test_arp_flips_name_the_director():
    events = [ev(1, 'client', 'arp', mac='00:00:00:00:00:01'), ev(2, 'client', 'arp', mac=None),
              ev(3, 'client', 'arp', mac='00:00:00:00:00:02'),
              ev(4, 'client', 'arp', mac='00:00:00:00:00:01'), vip(0, 'laicoz', True)]
    inv = invariants.vip_ownership(events, D, 'laicoz', 5, macs=MACS)
    assert [(f['t'], f['director']) for f in inv['arp_flips']] == [(3, 'laicoy'), (4, 'laicoz')]


def test_owner_without_table():
    events = [vip(0, 'laicoy', True), ev(0, 'laicoy', 'ipvs', table={'svc': []}),
              ev(4, 'laicoy', 'ipvs', table={'svc': ['r1']})]
    inv = invariants.vip_ownership(events, D, 'laicoy', 10, first_fault=-1)
    assert inv['owner_without_table_s'] == 4.0


def test_owner_at():
    events = [vip(0, 'laicoz', True), vip(5, 'laicoy', True)]
    assert invariants.owner_at(events, D, 3) == ['laicoz']
    assert invariants.owner_at(events, D, 6) == ['laicoz', 'laicoy']


def test_what_comes_after_the_end_of_the_run_does_not_count():
    """The teardown takes the VIP away: that is no outage of the run."""
    events = [vip(0, 'laicoz', True), vip(30, 'laicoz', False)]
    inv = invariants.vip_ownership(events, D, 'laicoz', 20)
    assert inv['no_owner_s'] == 0 and inv['no_owner'] == []
