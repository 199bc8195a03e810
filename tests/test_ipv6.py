"""An IPv6 service: the cluster's addresses, what each stack renders for it, and the
parsers of what the kernel says in IPv6 (ipvsadm's brackets, /proc/net/ip_vs,
/proc/net/if_inet6, the neighbour table's netlink dump)."""
import shutil
import socket
import struct
from pathlib import Path

import pytest

from conftest import refused, stack_from_flags
from topo.agents import monitor
from topo.ha import ScratchDirector
from topo import render
from topo.network import ipvs
from topo.network.config import ClusterConfig, ConfigError
from topo.network.roles import FORWARDING_TEMPLATE
from topo.network.webserver import NginxServer

DATA = Path(__file__).resolve().parent / 'data'
VIP6 = '2001:db8:14::146'


def test_every_node_gets_an_ipv6_address_that_reads_as_its_ipv4_one():
    c = ClusterConfig(vip=VIP6)
    assert c.ipv6 and c.vip_prefixlen == 64
    assert c.addresses6 == {'laicoz': '2001:db8:14::2', 'laicoy': '2001:db8:14::3',
                            'client': '2001:db8:14::200', 'laico2': '2001:db8:14::12',
                            'laico3': '2001:db8:14::13', 'laico4': '2001:db8:14::14'}
    assert c.addresses['laico2'] == '10.0.14.12'       # the IPv4 plumbing stays
    assert c.service == '[2001:db8:14::146]:80'
    assert c.real_endpoint('laico3') == '[2001:db8:14::13]:80'
    assert '2001:db8:14::12\tlaico2' in c.hosts_file()
    v4 = ClusterConfig()
    assert not v4.ipv6 and v4.addresses6 == {} and v4.service == '10.0.14.146:80'
    assert v4.real_endpoint('laico2') == '10.0.14.12:80' and v4.vip_prefixlen == 24
    assert ClusterConfig(vip='2001:db8:15::146', subnet6='2001:db8:15::/64') \
        .addresses6['laico4'] == '2001:db8:15::14'
    # many clients: RFC 5180's benchmarking prefix, as RFC 2544's for IPv4
    assert ClusterConfig(vip=VIP6, client_addresses=1000).client_sources == ('2001:2::1', 1000)
    assert ClusterConfig(client_addresses=1000).client_sources == ('198.18.0.1', 1000)


@pytest.mark.parametrize('values, message', [
    (dict(vip='2001:db8:99::146'), 'not inside the IPv6 subnet 2001:db8:14::/64'),
    (dict(vip='2001:db8:14::12'), 'collides with a host address'),
    (dict(vip='2001:db8:14::'), 'subnet-router anycast'),
    (dict(vip='2001:db8:14::146', subnet6='2001:db8:14::/96'), '/64 or larger'),
    (dict(vip='2001:db8:168:14::146', subnet6='2001:db8:168::/48', forwarding='nat'),
     'overlaps NAT\'s inside network'),
])
def test_what_ipv6_cannot_do_yet_is_refused_with_the_reason(values, message):
    with pytest.raises(ConfigError, match=message):
        ClusterConfig(**values)


def test_vrrp3_in_ipv6_goes_over_the_crossover_cable_to_the_peer_s_ipv6_address(tmp_path):
    stack = stack_from_flags('keepalived', '--vip', VIP6, '--crossover')
    director = ScratchDirector('laicoz', tmp_path, stack.private_dirs(), links=2)
    [path] = stack.configure(director)
    text = path.read_text()
    assert 'unicast_src_ip 2001:db8:77::1' in text and \
        'unicast_peer {\n        2001:db8:77::2\n    }' in text
    assert 'interface laicoz-eth1' in text
    # heartbeat's and Corosync's own traffic stays IPv4 over the cable
    stack = stack_from_flags('heartbeat', '--vip', VIP6, '--crossover')
    assert ClusterConfig(crossover=True).crossover_addresses()['laicoz'] == '169.254.77.1'
    assert stack.config.crossover_addresses()['laicoy'] == '2001:db8:77::2'


def test_the_command_line_takes_an_ipv6_vip_and_its_subnet():
    stack = stack_from_flags('keepalived', '--vip', '2001:db8:15::146',
                             '--subnet', '2001:db8:15::/64')
    assert stack.config.subnet == '10.0.14.0/24' and stack.config.subnet6 == '2001:db8:15::/64'
    assert 'one IPv4 and one IPv6 prefix' in refused(
        'failover', '--subnet', '10.0.14.0/24', '--subnet', '10.0.15.0/24')
    assert "needs the inventory's vip6" in refused('failover', '--vip', VIP6, '--target',
                                                   str(DATA / 'machines.yml'))
    assert 'resources stock' in refused('failover', '--stack', 'heartbeat', '--vip', VIP6,
                                        '--resources', 'stock')


def test_the_service_commands_write_ipv6_in_brackets():
    cmds = ipvs.service_commands(ClusterConfig(vip=VIP6))
    assert cmds[0] == ['-A', '-t', '[2001:db8:14::146]:80', '-s', 'rr']
    assert cmds[1][:5] == ['-a', '-t', '[2001:db8:14::146]:80', '-r', '[2001:db8:14::12]:80']


def test_ipvsadm_tables_in_ipv6_parse_with_names_and_numbers():
    [svc] = ipvs.parse((DATA / 'ipvsadm-ipv6-n.txt').read_text())
    assert svc['address'] == '[2001:db8:14::146]:80' and svc['host'] == VIP6
    assert [r['address'] for r in svc['real_servers']] == [
        '[2001:db8:14::12]:80', '[2001:db8:14::13]:80', '[2001:db8:14::14]:80']
    assert svc['real_servers'][0]['forward'] == 'Route'
    [named] = ipvs.parse((DATA / 'ipvsadm-ipv6.txt').read_text())
    assert [r['host'] for r in named['real_servers']] == ['laico2', 'laico3', 'laico4']


# captured in UML 7.2 from a director holding the VIP of a static service
PROC_IP_VS = """IP Virtual Server version 1.2.1 (size=256)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  [2001:0db8:0014:0000:0000:0000:0000:0146]:0050 rr 
  -> [2001:0db8:0014:0000:0000:0000:0000:0014]:0050      Route   1      0          0         
  -> [2001:0db8:0014:0000:0000:0000:0000:0013]:0050      Route   1      0          0         
  -> [2001:0db8:0014:0000:0000:0000:0000:0012]:0050      Route   1      0          0         
"""
IF_INET6 = """00000000000000000000000000000001 01 80 10 80       lo
20010db8001400000000000000000002 06 40 00 82 laicoz-eth0
20010db8001400000000000000000146 06 20 00 a2 laicoz-eth0
fe80000000000000020000fffe000006 06 40 20 80 laicoz-eth0
"""


def test_the_monitor_reads_the_ipv6_table_and_addresses_of_proc():
    assert monitor.parse_ip_vs(PROC_IP_VS) == {'[2001:db8:14::146]:80': [
        '[2001:db8:14::12]:80', '[2001:db8:14::13]:80', '[2001:db8:14::14]:80']}
    assert monitor.parse_if_inet6(IF_INET6) == {'::1', '2001:db8:14::2', VIP6,
                                                'fe80::200:ff:fe00:6'}
    # in duplicate address detection (tentative, 0x40) or failed it (0x08): not usable
    tentative = IF_INET6.replace('06 20 00 a2', '06 40 00 c0')
    assert VIP6 not in monitor.parse_if_inet6(tentative)
    assert VIP6 not in monitor.parse_if_inet6(IF_INET6.replace('06 20 00 a2', '06 20 00 88'))


def neighbour_message(address, state, mac=None):
    attrs = struct.pack('=HH', 20, monitor.NDA_DST) + socket.inet_pton(socket.AF_INET6, address)
    if mac:
        attrs += struct.pack('=HH', 10, monitor.NDA_LLADDR) + bytes.fromhex(
            mac.replace(':', '')) + b'\0\0'
    body = struct.pack('=BBHiHBB', socket.AF_INET6, 0, 0, 6, state, 0, 0) + attrs
    return struct.pack('=IHHII', 16 + len(body), monitor.RTM_NEWNEIGH, 2, 1, 0) + body


def test_the_neighbour_dump_gives_each_entry_s_mac_and_state():
    data = neighbour_message(VIP6, 0x04, '00:00:00:00:00:05') + \
        neighbour_message('2001:db8:14::12', 0x01) + \
        struct.pack('=IHHII', 20, monitor.NLMSG_DONE, 2, 1, 0) + b'\0' * 4
    entries, done = monitor.parse_neighbours(data)
    assert done and entries == {VIP6: ('00:00:00:00:00:05', 'STALE'),
                                '2001:db8:14::12': (None, 'INCOMPLETE')}
    assert monitor.parse_neighbours(neighbour_message(VIP6, 0x02, 'aa:bb:cc:dd:ee:ff')) == (
        {VIP6: ('aa:bb:cc:dd:ee:ff', 'REACHABLE')}, False)


def test_a_real_server_holds_an_ipv6_vip_on_lo_and_nginx_listens_on_both(tmp_path):
    text = render.render(FORWARDING_TEMPLATE, {
        'node': 'laico2', 'forwarding': 'dr', 'vip': VIP6, 'iface': 'laico2-eth0',
        'gateway': None, 'device': 'lo', 'module': None, 'gue_port': None})
    assert 'ip addr replace 2001:db8:14::146/128 dev lo' in text
    conf = NginxServer('laico2', 80, tmp_path, ipv6=True).render().read_text()
    assert 'listen 80 ' in conf and 'listen [::]:80 ' in conf
    assert '[::]' not in NginxServer('laico2', 80, tmp_path / 'v4').render().read_text()


def test_tunnelling_in_ipv6_takes_the_vip_on_ip6tnl0():
    c = ClusterConfig(vip=VIP6, forwarding='tun', dual_stack=True)
    assert ipvs.service_commands(c)[-1][-3:] == ['-i', '-w', '1']
    text = render.render(FORWARDING_TEMPLATE, {
        'node': 'laico2', 'forwarding': 'tun', 'vip': VIP6, 'vips': c.vips,
        'vips4': ['10.0.14.146'], 'vips6': [VIP6], 'iface': 'laico2-eth0', 'gateway': None,
        'device': 'tunl0', 'module': None, 'gue_port': None})
    assert 'modprobe -q ip6_tunnel' in text
    assert 'ip addr replace 2001:db8:14::146/128 dev ip6tnl0' in text
    assert 'ip addr replace 10.0.14.146/32 dev tunl0' in text
    assert 'dev lo' not in text


def configure(tmp_path, name, *argv, vip=VIP6):
    stack = stack_from_flags(name, '--vip', vip, *argv)
    director = ScratchDirector('laicoz', tmp_path, stack.private_dirs())
    stack.configure(director)
    return stack, director


def test_keepalived_runs_vrrp3_and_an_ipv6_virtual_server(tmp_path):
    # (one second's adverts would be VRRPv2, which has no IPv6)
    stack, director = configure(tmp_path, 'keepalived', '--advert-int', '1')
    text = open(director.private('/etc/keepalived/keepalived.conf')).read()
    assert 'vrrp_version 3' in text and 'auth_pass' not in text
    assert '2001:db8:14::146/64 dev laicoz-eth0 preferred_lft 0' in text
    assert 'virtual_server 2001:db8:14::146 80 {' in text
    assert 'real_server 2001:db8:14::12 80 {' in text
    if shutil.which('keepalived'):
        assert stack.self_check(director) == []


def test_ldirectord_has_its_ipv6_keywords_and_heartbeat_the_address_in_full(tmp_path):
    stack, director = configure(tmp_path, 'heartbeat')
    ld = open(director.private('/etc/ha.d/ldirectord.cf')).read()
    assert 'virtual6=[2001:db8:14::146]:80' in ld
    assert '\treal6=[2001:db8:14::12]:80 gate 1' in ld and '\treal=' not in ld
    haresources = open(director.private('/etc/ha.d/haresources')).read().splitlines()[-1]
    # '::' separates haresources' arguments: no '::' inside the address
    assert haresources == 'laicoz VIP::2001:0db8:0014:0000:0000:0000:0000:0146/64 ' \
                          'LVSDirector::ldirectord.cf'
    if shutil.which('ldirectord'):
        assert stack.self_check(director) == []


def test_duplicate_address_detection_of_the_vip_is_a_flag_of_every_stack(tmp_path):
    _, director = configure(tmp_path / 'k', 'keepalived', '--vip-dad', 'on')
    assert 'preferred_lft 0 -nodad' in open(
        director.private('/etc/keepalived/keepalived.conf')).read()
    _, director = configure(tmp_path / 'h', 'heartbeat', '--vip-dad', 'on')
    assert '/64::dad LVSDirector' in open(director.private('/etc/ha.d/haresources')).read()
    _, director = configure(tmp_path / 'p', 'pacemaker', '--vip-dad', 'off')
    assert 'name="nodad" value="true"' in open(
        director.private('/var/lib/pacemaker/cib/cib.xml')).read()
    _, director = configure(tmp_path / 'p2', 'pacemaker')
    assert 'nodad' not in open(director.private('/var/lib/pacemaker/cib/cib.xml')).read()
    assert 'IPv4' in refused('failover', '--vip-dad', 'on')


def test_pacemaker_deprecates_the_ipv6_vip(tmp_path):
    stack, director = configure(tmp_path, 'pacemaker', '--hot-standby')
    cib = open(director.private('/var/lib/pacemaker/cib/cib.xml')).read()
    assert 'name="ip" value="2001:db8:14::146"' in cib
    assert 'name="cidr_netmask" value="64"' in cib and 'name="preferred_lft" value="0"' in cib
    if shutil.which('crm_verify'):
        assert stack.self_check(director) == []


# -- NAT: the real servers' IPv6 gateway moves with the VIP ----------------------------

def test_nat_puts_the_real_servers_and_their_ipv6_gateway_inside():
    c = ClusterConfig(vip=VIP6, forwarding='nat')
    # the inside network in IPv6 reads as in IPv4: laico2 ::12, the gateway ::254
    assert c.addresses6['laico2'] == '2001:db8:168:14::12'
    assert c.addresses['laico2'] == '192.168.14.12'         # (its IPv4 plumbing stays)
    assert c.inside6 == {'laicoz': '2001:db8:168:14::2', 'laicoy': '2001:db8:168:14::3'}
    assert c.gateway == '2001:db8:168:14::254' and c.gateway_prefixlen == 64
    assert c.real_endpoint('laico3') == '[2001:db8:168:14::13]:80'
    assert c.addresses6['laicoz'] == '2001:db8:14::2'       # the directors stay on the hub
    v4 = ClusterConfig(forwarding='nat')
    assert v4.gateway == '192.168.14.254' and v4.gateway_prefixlen == 24 and not v4.inside6
    script = render.render(FORWARDING_TEMPLATE, {
        'node': 'laico2', 'forwarding': 'nat', 'vip': VIP6, 'iface': 'laico2-eth0',
        'gateways': [c.gateway], 'device': 'lo', 'module': None, 'gue_port': None})
    assert 'ip -6 route replace default via 2001:db8:168:14::254' in script


@pytest.mark.parametrize('tun_type, device, lines', [
    ('gre', 'ip6gre0', ['modprobe -q ip6_gre']),
    ('gue', 'ip6tnl0', ['modprobe -q fou6', 'ip fou add port 6080 gue -6']),
])
def test_gre_and_gue_in_ipv6_each_on_its_catch_all_device(tun_type, device, lines):
    from topo.network.roles import RealServer
    server = RealServer()
    server.name, server.vip, server.vips, server.forwarding = 'laico2', VIP6, (VIP6,), 'tun'
    server.gateways, server.tun_type, server.interfaces = (), tun_type, lambda: ['laico2-eth0']
    values = server.forwarding_variables()
    assert values['device6'] == device and values['vips4'] == []
    text = render.render(FORWARDING_TEMPLATE, values)
    assert 'ip addr replace 2001:db8:14::146/128 dev %s' % device in text
    assert 'ip link set %s addrgenmode none' % device in text
    assert all(line in text for line in lines), text
    assert 'tunl0' not in text and ' gre0' not in text      # (nothing of IPv4's)


def test_remote_real_servers_are_inside_in_ipv6_behind_the_router():
    c = ClusterConfig(vip=VIP6, forwarding='tun', remote_servers=True)
    assert c.addresses6['laico4'] == '2001:db8:168:14::14'
    assert c.addresses6['router'] == '2001:db8:14::1'       # its leg on the hub
    # the real servers' gateway is the router's leg inside, in each family
    assert c.gateway == '2001:db8:168:14::254' and c.inside_gateway4 == '192.168.14.254'
    assert c.inside6 == {}          # (no director is inside)
    assert ClusterConfig(forwarding='tun', remote_servers=True).gateway == '192.168.14.254'


def test_active_active_in_ipv6_routes_the_vip_over_two_ipv6_next_hops(tmp_path):
    c = ClusterConfig(vip=VIP6, active_active=True, scheduler='mh', sloppy_tcp=True)
    assert c.next_hops == {'laicoz': '2001:db8:14::4', 'laicoy': '2001:db8:14::5'}
    assert c.takeover_address == '2001:db8:14::4'
    # the client behind the router, on its own network in each family
    assert c.outside6 == {'router': '2001:db8:0:2::1', 'client': '2001:db8:0:2::200'}
    assert c.addresses6['client'] == '2001:db8:0:2::200' and c.addresses['client'] == '192.0.2.200'
    assert c.addresses6['router'] == '2001:db8:14::1'
    assert 'ip addr replace 2001:db8:14::146/128 dev lo' in c.director_setup('laicoz-eth0')
    stack, director = configure(tmp_path / 'k', 'keepalived', '--active-active', '--scheduler',
                                'mh')
    text = open(director.private('/etc/keepalived/keepalived.conf')).read()
    assert '2001:db8:14::4/64 dev laicoz-eth0 preferred_lft 0' in text
    assert '2001:db8:14::5/64 dev laicoz-eth0 preferred_lft 0' in text
    stack = stack_from_flags('heartbeat', '--vip', VIP6, '--active-active', '--scheduler', 'mh',
                             '--hot-standby')
    assert stack.resources() == [
        ['laicoz', 'VIP::2001:0db8:0014:0000:0000:0000:0000:0004/64'],
        ['laicoy', 'VIP::2001:0db8:0014:0000:0000:0000:0000:0005/64']]
    stack = stack_from_flags('pacemaker', '--vip', VIP6, '--active-active', '--scheduler', 'mh',
                             '--hot-standby')
    assert [g['addresses'][0]['ip'] for g in stack.groups()] == ['2001:db8:14::4',
                                                                 '2001:db8:14::5']


def test_active_active_in_both_families_moves_a_next_hop_of_each_family(tmp_path):
    c = ClusterConfig(active_active=True, scheduler='mh', dual_stack=True)
    assert c.next_hops == {'laicoz': '10.0.14.4', 'laicoy': '10.0.14.5'}
    assert c.next_hop_sets == {'laicoz': ['10.0.14.4', '2001:db8:14::4'],
                               'laicoy': ['10.0.14.5', '2001:db8:14::5']}
    assert c.takeover_address == '10.0.14.4'     # (the invariants follow the first family)
    # the client behind the router in both families; both VIPs on the directors' lo
    assert c.addresses['client'] == '192.0.2.200' and c.addresses6['client'] == \
        '2001:db8:0:2::200'
    setup = c.director_setup('laicoz-eth0')
    assert 'ip addr replace 10.0.14.146/32 dev lo' in setup
    assert 'ip addr replace 2001:db8:14::146/128 dev lo' in setup
    assert ClusterConfig(scheduler='mh').next_hop_sets == {}
    assert c.companions == ['2001:db8:14::4'] and ClusterConfig().companions == []
    stack, director = configure(tmp_path / 'k', 'keepalived', '--active-active', '--scheduler',
                                'mh', '--dual-stack', vip='10.0.14.146')
    text = open(director.private('/etc/keepalived/keepalived.conf')).read()
    for instance, hop4, hop6 in (('VI_LVS', '10.0.14.4', '::4'), ('VI_LVS_B', '10.0.14.5', '::5')):
        block = text[text.index('vrrp_instance %s ' % instance):]
        block = block[:block.index('\n}\n')]
        assert '%s/24 dev laicoz-eth0' % hop4 in block
        assert 'virtual_ipaddress_excluded {\n        2001:db8:14%s/64 dev laicoz-eth0 ' \
            'preferred_lft 0' % hop6 in block
    stack = stack_from_flags('heartbeat', '--active-active', '--scheduler', 'mh',
                             '--hot-standby', '--dual-stack')
    assert stack.resources() == [
        ['laicoz', 'VIP::10.0.14.4/24 VIP::2001:0db8:0014:0000:0000:0000:0000:0004/64'],
        ['laicoy', 'VIP::10.0.14.5/24 VIP::2001:0db8:0014:0000:0000:0000:0000:0005/64']]
    stack = stack_from_flags('pacemaker', '--active-active', '--scheduler', 'mh',
                             '--hot-standby', '--dual-stack')
    assert [[(a['id'], a['ip']) for a in g['addresses']] for g in stack.groups()] == [
        [('next-hop-laicoz', '10.0.14.4'), ('next-hop-laicoz-ipv6', '2001:db8:14::4')],
        [('next-hop-laicoy', '10.0.14.5'), ('next-hop-laicoy-ipv6', '2001:db8:14::5')]]


def test_each_stack_moves_the_ipv6_gateway_with_the_vip(tmp_path):
    _, director = configure(tmp_path / 'k', 'keepalived', '--forwarding', 'nat')
    text = open(director.private('/etc/keepalived/keepalived.conf')).read()
    # its own VRRPv3 instance on the inside network, synced with the VIP's, deprecated
    # as the VIP is (the director's checks of the real servers leave from its own address)
    assert '2001:db8:168:14::254/64 dev laicoz-lan preferred_lft 0' in text
    assert 'real_server 2001:db8:168:14::12 80 {' in text and 'lvs_method NAT' in text
    _, director = configure(tmp_path / 'h', 'heartbeat', '--forwarding', 'nat')
    haresources = open(director.private('/etc/ha.d/haresources')).read()
    assert 'VIP::2001:0db8:0168:0014:0000:0000:0000:0254/64' in haresources
    ldirectord = open(director.private('/etc/ha.d/ldirectord.cf')).read()
    assert 'real6=[2001:db8:168:14::12]:80 masq' in ldirectord
    _, director = configure(tmp_path / 'p', 'pacemaker', '--forwarding', 'nat')
    cib = open(director.private('/var/lib/pacemaker/cib/cib.xml')).read()
    assert 'id="gateway-ip" name="ip" value="2001:db8:168:14::254"' in cib
    assert 'id="gateway-preferred-lft" name="preferred_lft" value="0"' in cib
    # IPaddr2 waits out DAD for the VIP by default, not for the gateway (the answers'
    # way back would be with the other director meanwhile)
    assert 'id="gateway-nodad"' in cib and 'id="vip-nodad"' not in cib


# -- a lost announcement ----------------------------------------------------------------

HUB_FLOWS = """
import json, logging, sys
sys.path.insert(0, sys.argv[1])
from os_ken.ofproto import ofproto_v1_3 as ofp, ofproto_v1_3_parser as parser
from controllers import hub

class Datapath:
    ofproto, ofproto_parser = ofp, parser

    def __init__(self):
        self.sent = []

    def send_msg(self, msg):
        self.sent.append(msg)

    def send_barrier(self):
        pass

app = hub.Hub.__new__(hub.Hub)
app.datapath, app.logger = Datapath(), logging.getLogger()
app.mute(sys.argv[2:])
print(json.dumps([[m.priority, m.cookie, dict(m.match.items()), len(m.instructions)]
                  for m in app.datapath.sent]))
"""


def test_the_hub_drops_each_vip_s_announcements_and_not_the_answers_to_a_client():
    """The hub app's flows for --vip-announce lost, built by os-ken's own parser (in a
    process of their own: os-ken brings eventlet)."""
    import json
    import subprocess
    from conftest import PYTHON, ROOT
    from controllers import MUTE_COOKIE
    out = subprocess.run([PYTHON, '-c', HUB_FLOWS, str(ROOT), '10.0.14.146', VIP6],
                         stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout
    arp, na = json.loads(out)
    # above the partition's flows (10); no instruction: dropped
    assert arp[:2] == na[:2] == [20, MUTE_COOKIE] and arp[3] == na[3] == 0
    # gratuitous ARP is broadcast with the VIP as its sender; an answer to the client's
    # own request is unicast to it, and passes
    assert arp[2] == {'eth_type': 0x0806, 'eth_dst': 'ff:ff:ff:ff:ff:ff',
                      'arp_spa': '10.0.14.146'}
    # an unsolicited NA goes to all nodes; a solicited one to the client that asked
    assert na[2] == {'eth_type': 0x86dd, 'ip_proto': 58, 'icmpv6_type': 136,
                     'ipv6_dst': 'ff02::1', 'ipv6_nd_target': VIP6}


def test_a_lost_announcement_is_refused_where_the_testbed_has_no_hub_or_no_vip_moves():
    assert ClusterConfig(vip=VIP6, vip_announce='lost').as_dict()['vip_announce'] == 'lost'
    with pytest.raises(ConfigError, match='none of sent, lost'):
        ClusterConfig(vip_announce='late')
    with pytest.raises(ConfigError, match='active/active announces no VIP'):
        ClusterConfig(vip_announce='lost', active_active=True, scheduler='mh',
                      sloppy_tcp=True)
    assert "machines' switch is not the testbed's" in refused(
        'failover', '--vip-announce', 'lost', '--target',
        str(DATA / 'machines.yml'))


# -- dual stack: a VIP of each family at once ------------------------------------------

def test_dual_stack_serves_a_vip_of_each_family_with_the_same_host_number():
    c = ClusterConfig(dual_stack=True)
    assert c.vips == ['10.0.14.146', VIP6] and not c.ipv6
    assert [v.service for v in c.families()] == ['10.0.14.146:80', '[2001:db8:14::146]:80']
    assert c.families()[0] is c and c.families()[1].real_endpoint('laico2') == \
        '[2001:db8:14::12]:80'
    assert ClusterConfig(vip=VIP6, dual_stack=True).vips == [VIP6, '10.0.14.146']
    cmds = ipvs.service_commands(c)
    assert [cmd[2] for cmd in cmds if cmd[0] == '-A'] == ['10.0.14.146:80', '[2001:db8:14::146]:80']
    assert len(cmds) == 8
    with pytest.raises(ConfigError, match='collides'):
        ClusterConfig(vip='10.0.14.12', dual_stack=True)
    text = render.render(FORWARDING_TEMPLATE, {
        'node': 'laico2', 'forwarding': 'dr', 'vip': '10.0.14.146', 'vips': c.vips,
        'iface': 'laico2-eth0', 'gateway': None, 'device': 'lo', 'module': None,
        'gue_port': None})
    assert 'ip addr replace 10.0.14.146/32 dev lo' in text
    assert 'ip addr replace 2001:db8:14::146/128 dev lo' in text


def test_each_stack_moves_both_vips_and_serves_both_services(tmp_path):
    stack, director = configure(tmp_path / 'k', 'keepalived', '--dual-stack', vip='10.0.14.146')
    text = open(director.private('/etc/keepalived/keepalived.conf')).read()
    # one family per VRRP instance: the IPv4 VIP in the adverts, the IPv6 one beside
    assert 'virtual_ipaddress_excluded {\n        2001:db8:14::146/64 dev laicoz-eth0 ' \
           'preferred_lft 0' in text
    assert 'virtual_server 10.0.14.146 80 {' in text and \
        'virtual_server 2001:db8:14::146 80 {' in text
    if shutil.which('keepalived'):
        assert stack.self_check(director) == []
    stack, director = configure(tmp_path / 'h', 'heartbeat', '--dual-stack', vip='10.0.14.146')
    ld = open(director.private('/etc/ha.d/ldirectord.cf')).read()
    assert 'virtual=10.0.14.146:80' in ld and 'virtual6=[2001:db8:14::146]:80' in ld
    assert open(director.private('/etc/ha.d/haresources')).read().splitlines()[-1] == \
        'laicoz VIP::10.0.14.146/24 VIP::2001:0db8:0014:0000:0000:0000:0000:0146/64 ' \
        'LVSDirector::ldirectord.cf'
    if shutil.which('ldirectord'):
        assert stack.self_check(director) == []
    stack, director = configure(tmp_path / 'p', 'pacemaker', '--dual-stack', vip='10.0.14.146')
    cib = open(director.private('/var/lib/pacemaker/cib/cib.xml')).read()
    assert 'id="vip"' in cib and 'id="vip-ipv6"' in cib
    assert cib.index('id="vip"') < cib.index('id="vip-ipv6"') < cib.index('ldirectord')
    if shutil.which('crm_verify'):
        assert stack.self_check(director) == []


def test_dual_stack_puts_the_real_servers_inside_in_both_families_with_a_gateway_each():
    for vip, first in (('10.0.14.146', '192.168.14.254'), (VIP6, '2001:db8:168:14::254')):
        c = ClusterConfig(vip=vip, forwarding='nat', dual_stack=True)
        assert c.gateway == first and c.gateways[0] == first
        assert sorted(c.gateways) == ['192.168.14.254', '2001:db8:168:14::254']
        assert c.addresses['laico2'] == '192.168.14.12'
        assert c.addresses6['laico2'] == '2001:db8:168:14::12'
        assert c.inside6 == {'laicoz': '2001:db8:168:14::2', 'laicoy': '2001:db8:168:14::3'}
        # each family's service names the real servers by that family's inside address
        assert sorted(v.real_endpoint('laico3') for v in c.families()) == \
            ['192.168.14.13:80', '[2001:db8:168:14::13]:80']
        # what every run follows beside the VIP (and the gateway) of the first family
        assert c.companions == [c.vips[1], c.gateways[1]]
    remote = ClusterConfig(forwarding='tun', remote_servers=True, dual_stack=True)
    assert remote.companions == [VIP6]      # (the router's leg is no director's)
    assert remote.gateways == ['192.168.14.254', '2001:db8:168:14::254']
    assert remote.inside6 == {} and remote.addresses6['laico4'] == '2001:db8:168:14::14'
    assert ClusterConfig(forwarding='tun').gateways == []
    script = render.render(FORWARDING_TEMPLATE, {
        'node': 'laico2', 'forwarding': 'nat', 'vip': '10.0.14.146', 'iface': 'laico2-eth0',
        'gateways': c.gateways, 'device': 'lo', 'module': None, 'gue_port': None})
    assert 'ip -6 route replace default via 2001:db8:168:14::254' in script
    assert 'ip route replace default via 192.168.14.254' in script


def test_each_stack_moves_each_family_s_gateway_right_after_its_vip(tmp_path):
    stack, director = configure(tmp_path / 'k', 'keepalived', '--dual-stack',
                                '--forwarding', 'nat', vip='10.0.14.146')
    text = open(director.private('/etc/keepalived/keepalived.conf')).read()
    gw = text[text.index('vrrp_instance VI_GW'):]
    # one family per VRRP instance: the IPv4 gateway in the adverts, the IPv6 one beside
    assert '192.168.14.254/24 dev laicoz-lan' in gw and 'virtual_ipaddress_excluded {\n' \
        '        2001:db8:168:14::254/64 dev laicoz-lan preferred_lft 0' in gw
    # (no `keepalived -t` here: it wants the inside interface, which this host lacks)
    stack, director = configure(tmp_path / 'h', 'heartbeat', '--dual-stack',
                                '--forwarding', 'nat', vip='10.0.14.146')
    resources = open(director.private('/etc/ha.d/haresources')).read().splitlines()[-1]
    assert resources.split()[1:5] == [
        'VIP::10.0.14.146/24', 'VIP::192.168.14.254/24',
        'VIP::2001:0db8:0014:0000:0000:0000:0000:0146/64',
        'VIP::2001:0db8:0168:0014:0000:0000:0000:0254/64']
    stack, director = configure(tmp_path / 'p', 'pacemaker', '--dual-stack',
                                '--forwarding', 'nat', vip='10.0.14.146')
    cib = open(director.private('/var/lib/pacemaker/cib/cib.xml')).read()
    order = [cib.index('id="%s"' % r) for r in ('vip', 'gateway', 'vip-ipv6',
                                                 'gateway-ipv6', 'ldirectord')]
    assert order == sorted(order)
    if shutil.which('crm_verify'):
        assert stack.self_check(director) == []


def test_a_figure_with_both_families_wants_both_services_whole():
    from topo.analysis import figures
    c = ClusterConfig(dual_stack=True)
    v4 = ipvs.parse('\n'.join([
        'TCP  10.0.14.146:80 rr'] + ['  -> 10.0.14.%d:80 Route 1 0 5' % h for h in (12, 13, 14)]))
    v6 = ipvs.parse((DATA / 'ipvsadm-ipv6-n.txt').read_text())
    expect = figures.expectation(6, c, requests=15)
    # the figure's 15 requests went to the first VIP: only its counts are the paper's
    assert figures.check(expect, v4 + v6, True, c) == (True, [])
    passed, problems = figures.check(expect, v4, True, c)
    assert not passed and 'the virtual services 10.0.14.146:80, [2001:db8:14::146]:80' \
        in problems[0]
    v6[0]['real_servers'] = v6[0]['real_servers'][1:]
    passed, problems = figures.check(expect, v4 + v6, True, c)
    assert problems == ['real servers laico3,laico4, expected laico2,laico3,laico4']
