import pytest

from topo.network.config import ClusterConfig, ConfigError, parse_weights


def test_defaults_match_the_paper():
    c = ClusterConfig()
    assert c.real_servers == ['laico2', 'laico3', 'laico4']
    assert c.hosts == ['laicoz', 'laicoy', 'laico2', 'laico3', 'laico4', 'client']
    assert c.weights == [1, 1, 1] and c.scheduler == 'rr' and c.forwarding == 'dr'
    assert c.addresses['laico2'] == '10.0.14.12' and c.addresses['laicoz'] == '10.0.14.2'
    assert len(set(c.addresses.values())) == len(c.hosts)
    assert c.vip not in c.addresses.values()


def test_hosts_file_names_every_host_but_not_the_vip():
    c = ClusterConfig()
    text = c.hosts_file()
    for h in c.hosts:
        assert '%s\t%s' % (c.addresses[h], h) in text
    assert c.vip not in text


@pytest.mark.parametrize('kwargs, message', [
    (dict(scheduler='fifo'), 'unknown scheduler'),
    (dict(scheduler='rr', sched_flags=['mh-port']), 'apply to the hashing schedulers'),
    (dict(scheduler='mh', sched_flags=['sh-port']), 'each of mh-fallback, mh-port'),
    (dict(scheduler='mh', sched_flags=['mh-port', 'mh-port']), 'at most once'),
    (dict(weights=[1, 2]), '2 weights given for 3 real servers'),
    (dict(servers=2, weights=[1, 2, 3]), '3 weights given for 2'),
    (dict(weights=[1, -1, 1]), 'weights must be integers'),
    (dict(vip='192.0.2.1'), 'not inside the testbed subnet'),
    (dict(vip='10.0.14.12'), 'collides'),
    (dict(vip='10.0.14.255'), 'broadcast'),
    (dict(subnet='10.0.14.0/28', vip='10.0.14.5'), '/24 or larger'),
    (dict(servers=0), 'number of real servers'),
    (dict(forwarding='masq'), 'unknown forwarding'),
    (dict(forwarding='nat', inside_subnet='10.0.0.0/16'), 'overlaps 10.0.14.0/24'),
    (dict(forwarding='nat', inside_subnet='198.19.0.0/24'), 'overlaps 198.18.0.0/15'),
    (dict(forwarding='nat', inside_subnet='192.168.14.0/28'), '/24 or larger'),
    (dict(vip='not-an-ip'), 'does not appear to be'),
    (dict(tun_type='vxlan', forwarding='tun'), 'unknown tunnel type'),
    (dict(tun_type='gre'), 'tunnelling only: add --forwarding tun'),
    (dict(remote_servers=True, forwarding='nat'), '--remote-servers applies to tunnelling'),
    (dict(forwarding='tun', remote_servers=True, vip='10.0.14.1'), 'collides'),
])
def test_bad_input_is_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ClusterConfig(**kwargs)


def test_weights_parse():
    assert parse_weights('2,3,4') == [2, 3, 4]
    with pytest.raises(ConfigError):
        parse_weights('2,x')
    with pytest.raises(ConfigError):
        parse_weights('')


def test_more_servers_get_their_own_addresses():
    c = ClusterConfig(servers=5, weights=[1, 2, 3, 4, 5], scheduler='wrr')
    assert c.real_servers[-1] == 'laico6' and c.addresses['laico6'] == '10.0.14.16'
    assert c.weight_of('laico4') == 3


def test_nat_puts_the_real_servers_behind_the_directors():
    c = ClusterConfig(forwarding='nat')
    assert c.nat and c.gateway == '192.168.14.254' and c.inside_prefixlen == 24
    assert c.inside == {'laicoz': '192.168.14.2', 'laicoy': '192.168.14.3'}
    assert [c.addresses[s] for s in c.real_servers] == ['192.168.14.12', '192.168.14.13',
                                                        '192.168.14.14']
    assert c.addresses['laicoz'] == '10.0.14.2' and c.addresses['client'] == '10.0.14.200'
    assert 'laico2' in c.hosts_file() and c.as_dict()['gateway'] == '192.168.14.254'
    dr = ClusterConfig()
    assert not dr.nat and dr.gateway is None and dr.inside == {}
    assert dr.as_dict()['inside_subnet'] is None


def test_tunnel_types_are_ipvsadm_s_and_keepalived_s_words():
    assert ClusterConfig(forwarding='tun').forward_args() == ['-i']
    gue = ClusterConfig(forwarding='tun', tun_type='gue')
    assert gue.forward_args() == ['-i', '--tun-type', 'gue', '--tun-port', '6080']
    assert gue.keepalived_method() == 'TUN type gue port 6080'
    gre = ClusterConfig(forwarding='tun', tun_type='gre')
    assert gre.forward_args() == ['-i', '--tun-type', 'gre']
    assert gre.keepalived_method() == 'TUN type gre'
    assert ClusterConfig(forwarding='nat').forward_args() == ['-m']
    assert ClusterConfig().keepalived_method() == 'DR'


def test_remote_servers_sit_behind_a_router_not_the_directors():
    c = ClusterConfig(forwarding='tun', remote_servers=True)
    assert c.router == 'router' and c.hosts[-1] == 'router' and c.servers_inside
    assert c.addresses['router'] == '10.0.14.1' and c.gateway == '192.168.14.254'
    assert c.addresses['laico2'] == '192.168.14.12' and c.inside == {}    # no director leg
    assert not c.nat and 'router' in c.hosts_file()
    assert ClusterConfig(forwarding='tun').router is None


def test_a_hashing_scheduler_s_flags_and_sloppy_tcp_are_ipvsadm_s_and_sysctl_s():
    c = ClusterConfig(scheduler='mh', sched_flags=['mh-port', 'mh-fallback'], sloppy_tcp=True)
    assert c.scheduler_args() == ['-s', 'mh', '-b', 'mh-port,mh-fallback']
    assert c.director_setup('laicoz-eth0') == \
        'sysctl -qw net.ipv4.vs.sloppy_tcp=1 net.ipv4.vs.sloppy_sctp=1'
    assert ClusterConfig().scheduler_args() == ['-s', 'rr']
    assert ClusterConfig().director_setup('laicoz-eth0') is None
    assert c.as_dict()['sched_flags'] == ['mh-port', 'mh-fallback']
    from topo.network.ipvs import service_commands
    assert service_commands(c)[0][-4:] == ['-s', 'mh', '-b', 'mh-port,mh-fallback']


def test_active_active_puts_the_client_behind_the_router_and_gives_each_director_a_next_hop():
    c = ClusterConfig(scheduler='mh', active_active=True)
    assert c.router == 'router' and c.addresses['router'] == '10.0.14.1'
    assert c.addresses['client'] == '192.0.2.200' and c.outside['router'] == '192.0.2.1'
    assert c.next_hops == {'laicoz': '10.0.14.4', 'laicoy': '10.0.14.5'}
    assert c.takeover_address == '10.0.14.4' and ClusterConfig().takeover_address == c.vip
    assert c.sloppy_tcp                     # a connection may move to the other director
    setup = c.director_setup('laicoz-eth0')
    assert 'ip addr replace 10.0.14.146/32 dev lo' in setup and 'sloppy_tcp=1' in setup
    assert 'net.ipv4.conf.laicoz-eth0.arp_ignore=1' in setup
    # a way's cluster: the client's address is the active/active one, not the hub's
    assert ClusterConfig().variant(active_active=True, scheduler='mh').addresses['client'] \
        == '192.0.2.200'


@pytest.mark.parametrize('kw, message', [
    ({}, '--scheduler sh or mh'),
    ({'scheduler': 'mh', 'forwarding': 'nat'}, 'use dr or tun'),
    ({'scheduler': 'mh', 'forwarding': 'tun', 'remote_servers': True}, 'one at a time'),
    ({'scheduler': 'mh', 'vip': '10.0.14.4'}, 'collides'),
    ({'scheduler': 'mh', 'subnet': '192.0.0.0/16', 'vip': '192.0.14.146'}, 'overlaps')])
def test_impossible_active_active_clusters_are_refused(kw, message):
    with pytest.raises(ConfigError, match=message):
        ClusterConfig(active_active=True, **kw)
