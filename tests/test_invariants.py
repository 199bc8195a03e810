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


def gw(t, node, held):
    return ev(t, node, 'gateway', held=held)


def test_nat_gateway_away_from_the_vip_is_measured():
    """heartbeat with NAT: each address resource after the other. The gateway follows
    the VIP 0.9 s late at start, the failover and the failback; keepalived's synced
    instances would leave no interval at all."""
    events = [vip(10, 'laicoz', True), gw(10.9, 'laicoz', True),
              ev(50, 'laicoz', 'link', up=False), vip(50.2, 'laicoz', False),
              gw(50.2, 'laicoz', False), vip(55, 'laicoy', True), gw(55.9, 'laicoy', True),
              ev(75, 'laicoz', 'link', up=True), gw(80, 'laicoy', False),
              vip(80.4, 'laicoy', False), vip(83, 'laicoz', True),
              gw(83.9, 'laicoz', True)]
    inv = invariants.vip_ownership(events, D, 'laicoz', 90, first_fault=50)
    # relative to the first owner at 10: the unplugged laicoz held both, served neither
    assert inv['gateway_split'] == [[0.0, 0.9], [45.0, 45.9], [70.0, 70.4], [73.0, 73.9]]
    assert inv['gateway_split_s'] == 3.1
    assert invariant_problems({'invariants': inv}, 0.0) == []
    stuck = [vip(10, 'laicoz', True), gw(10.9, 'laicoz', True), vip(50, 'laicoz', False),
             vip(51, 'laicoy', True)]          # the gateway left behind on laicoz
    inv = invariants.vip_ownership(stuck, D, 'laicoz', 60, first_fault=50)
    assert inv['gateway_split'][-1] == [40.0, 50.0]
    [problem] = invariant_problems({'invariants': inv}, 0.0)
    assert 'gateway was not where the VIP was for 10.00s (40.00-50.00s)' in problem
    # without NAT there is no gateway, and nothing is said of one
    assert 'gateway_split_s' not in invariants.vip_ownership(events[:1], D, 'laicoz', 60)


def also(t, node, address, held):
    return ev(t, node, 'also', address=address, held=held)


def test_dual_stack_every_address_that_moves_with_the_vip_is_followed():
    """Dual stack: the other family's VIP and gateway, each its own intervals away from
    the VIP; the NAT gateway of the first family still its own; one left behind on the
    dead director is a broken invariant naming it."""
    v6, gw6 = '2001:db8:14::146', '2001:db8:168:14::254'
    events = [vip(10, 'laicoz', True), gw(10, 'laicoz', True),
              also(10.5, 'laicoz', v6, True), also(11, 'laicoz', gw6, True),
              ev(50, 'laicoz', 'link', up=False), vip(50.2, 'laicoz', False),
              vip(55, 'laicoy', True), gw(55, 'laicoy', True),
              also(56, 'laicoy', v6, True), also(57, 'laicoy', gw6, True)]
    inv = invariants.vip_ownership(events, D, 'laicoz', 60, first_fault=50)
    assert inv['companions_split'] == {v6: [[0.0, 0.5], [45.0, 46.0]],
                                       gw6: [[0.0, 1.0], [45.0, 47.0]]}
    assert inv['companions_split_s'] == {v6: 1.5, gw6: 3.0}
    assert inv['gateway_split_s'] == 0.0          # (its own: the first family's gateway)
    assert inv['companions_elsewhere'] == {v6: [], gw6: []}
    assert invariant_problems({'invariants': inv}, 0.0) == []
    stuck = events[:-2] + [also(56, 'laicoy', gw6, True)]      # laicoy never got the VIP6
    inv = invariants.vip_ownership(stuck, D, 'laicoz', 80, first_fault=50)
    assert inv['companions_split'][v6][-1] == [45.0, 70.0]
    [problem] = invariant_problems({'invariants': inv}, 0.0)
    assert problem.startswith('2001:db8:14::146, which moves with the VIP, was not where '
                              'the VIP was for 25.00s (45.00-70.00s)'), problem
    # a lag is not a split, but the other family's VIP left on a live laicoz is
    split = events[:4] + [vip(50.2, 'laicoz', False), vip(55, 'laicoy', True)]
    inv = invariants.vip_ownership(split, D, 'laicoz', 60, first_fault=50)
    assert inv['companions_elsewhere'][v6] == [[40.2, 50.0]]
    assert any('on a director that did not hold the VIP for 9.80s' in p
               for p in invariant_problems({'invariants': inv}, 0.0))
    assert 'companions_split_s' not in invariants.vip_ownership(events[:2], D, 'laicoz', 60)
