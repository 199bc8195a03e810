"""Figure checks against real ipvsadm outputs captured in heartbeat runs (UML): direct
routing as in the paper, tunnelling and NAT (--forwarding tun, nat)."""
import pytest

from topo.analysis import figures
from topo.network import ipvs
from topo.network.config import ClusterConfig

RUN = 'heartbeat-run/'
CONFIG = ClusterConfig()
FILES = {5: 'fig05-laicoz', 6: 'fig06-laicoz', 8: 'fig08-laicoz', 9: 'fig09-laicoz',
         10: 'fig10-laicoy', 12: 'fig12-laicoy', 13: 'fig13-laicoz', 14: 'fig14-laicoy'}


def table(data, fig):
    return ipvs.parse(data(RUN + FILES[fig] + '.n.txt'))


@pytest.mark.parametrize('fig', sorted(FILES))
def test_each_captured_figure_passes_its_own_check(data, fig):
    """The tables (the VIP's place was not captured with them: None skips that half)."""
    expect = figures.expectation(fig, CONFIG)
    passed, problems = figures.check(expect, table(data, fig), None, CONFIG)
    assert passed, problems


@pytest.mark.parametrize('fig, wrong', [(10, True), (14, True), (12, False), (5, False)])
def test_the_vip_in_the_wrong_place_fails(data, fig, wrong):
    passed, problems = figures.check(figures.expectation(fig, CONFIG), table(data, fig), wrong,
                                     CONFIG)
    assert not passed and problems == ['VIP %s, expected %s' % (
        'held' if wrong else 'not held', 'not held' if wrong else 'held')]


@pytest.mark.parametrize('fig, other, complaint', [
    (8, 5, 'real servers laico2,laico3,laico4, expected laico3,laico4'),
    (10, 12, 'expected no virtual service'),
    (12, 10, 'expected one virtual service'),
    (6, 5, 'ActiveConn/InActConn 0/0, expected 0/5'),
])
def test_wrong_state_fails(data, fig, other, complaint):
    passed, problems = figures.check(figures.expectation(fig, CONFIG), table(data, other),
                                     None, CONFIG)
    assert not passed and any(complaint in p for p in problems), problems


def test_figure5_needs_zero_counts(data):
    passed, problems = figures.check(figures.expectation(5, CONFIG), table(data, 6), True, CONFIG)
    assert not passed and 'expected 0/0' in problems[0]


def test_weights_scheduler_and_vip_are_checked(data):
    other = ClusterConfig(weights=[2, 3, 4], scheduler='wrr')
    passed, problems = figures.check(figures.expectation(9, other), table(data, 9), True, other)
    assert not passed
    assert any('scheduler rr, expected wrr' in p for p in problems)
    assert any('laico3 weight 1, expected 3' in p for p in problems)
    passed, problems = figures.check(figures.expectation(9, CONFIG), table(data, 9), False, CONFIG)
    assert problems == ['VIP not held, expected held']


def test_nice_failback_and_warm_backup_expectations():
    assert figures.expectation(13, CONFIG, nice_failback=True)['servers'] == []
    assert figures.expectation(14, CONFIG, nice_failback=True)['vip'] is True
    warm = figures.expectation(10, CONFIG, backup_warm=True)
    assert warm['servers'] == CONFIG.real_servers and warm['vip'] is False


@pytest.mark.parametrize('method, folder, shown', [('tun', 'tunnel-run/', 'Tunnel'),
                                                  ('nat', 'masq-run/', 'Masq')])
@pytest.mark.parametrize('fig', sorted(FILES))
def test_each_method_s_figures_pass_with_its_forward_column_only(data, fig, method, folder,
                                                                 shown):
    """--forwarding tun or nat: the same figures with Tunnel or Masq where the paper has
    Route (captured from heartbeat runs of each)."""
    other = ClusterConfig(forwarding=method)
    theirs = ipvs.parse(data(folder + FILES[fig] + '.n.txt'))
    assert figures.check(figures.expectation(fig, other), theirs, None, other) == (True, [])
    with_servers = bool(figures.expectation(fig, CONFIG)['servers'])
    passed, problems = figures.check(figures.expectation(fig, CONFIG), theirs, None, CONFIG)
    if with_servers:
        assert not passed and any('forwarded by %s, expected Route' % shown in p
                                  for p in problems)
    passed, problems = figures.check(figures.expectation(fig, other), table(data, fig), None,
                                     other)
    if with_servers:
        assert not passed and any('forwarded by Route, expected %s' % shown in p
                                  for p in problems)


def test_the_tunnel_type_is_checked_from_the_rules(data):
    """`ipvsadm -L` says Tunnel for every type; the rules (`-S -n`, captured from a
    keepalived run with --tun-type gue --remote-servers) say which."""
    rules = data('gue-run/fig06-laicoz.rules.txt')
    assert ipvs.tunnel_types(rules) == {'192.168.14.%d' % h: 'gue' for h in (12, 13, 14)}
    assert ipvs.tunnel_types(data(RUN + 'fig06-laicoz.n.txt')) == {}       # not rules
    assert ipvs.tunnel_types('-a -t 10.0.14.146:80 -r 10.0.14.12:80 -g -w 1') == \
        {'10.0.14.12': None}
    theirs = ipvs.parse(data('gue-run/fig06-laicoz.n.txt'))
    for tun, passes in (('gue', True), ('gre', False), ('ipip', False)):
        config = ClusterConfig(forwarding='tun', tun_type=tun, remote_servers=True)
        passed, problems = figures.check(figures.expectation(6, config), theirs, None, config,
                                         ipvs.tunnel_types(rules))
        assert passed == passes, problems
        if not passes:
            assert 'laico2 tunnelled by gue, expected %s' % tun in problems
