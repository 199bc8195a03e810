"""The inventory of real machines (topo/backends/machines/inventory.py): an Ansible YAML inventory whose
groups are the cluster's roles, refused before anything starts when a host, a role, an
address or a fault's command is missing or wrong."""
import copy
import re
import shutil
import subprocess

import pytest
import yaml

from topo.backends.machines import inventory
from topo.network.config import ConfigError

GOOD = {'all': {
    'vars': {'cluster': {'vip': '10.0.14.146', 'subnet': '10.0.14.0/24'}},
    'children': {
        'directors': {'hosts': {
            'laicoy': {'ansible_host': '192.168.77.3', 'address': '10.0.14.3',
                       'interface': 'eth0'},
            'laicoz': {'ansible_host': '192.168.77.2', 'address': '10.0.14.2',
                       'interface': 'eth0', 'power_off': 'virsh destroy laicoz',
                       'power_on': 'virsh start laicoz'}}},
        'real_servers': {'hosts': {
            'laico%d' % n: {'ansible_host': '192.168.77.1%d' % n,
                            'address': '10.0.14.1%d' % n, 'interface': 'ens3'}
            for n in (3, 2, 4)}},
        'clients': {'hosts': {'client': {'ansible_host': '192.168.77.200',
                                         'address': '10.0.14.200', 'interface': 'eth0'}}}}}}


def changed(path, value):
    """GOOD with the value at path (a list of keys) replaced, or removed if None."""
    data = copy.deepcopy(GOOD)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


def test_a_good_inventory_in_the_experiments_order(tmp_path):
    path = tmp_path / 'machines.yml'
    path.write_text(yaml.safe_dump(GOOD))
    inv = inventory.load(path)
    assert list(inv.machines) == ['laicoz', 'laicoy', 'laico2', 'laico3', 'laico4', 'client']
    assert inv.real_servers == ['laico2', 'laico3', 'laico4']
    z = inv.machines['laicoz']
    assert (z.role, z.ssh, z.address, z.interface, z.user, z.port) == \
        ('director', '192.168.77.2', '10.0.14.2', 'eth0', 'root', 22)
    assert inv.machines['laico3'].interface == 'ens3' and inv.vip == '10.0.14.146'
    assert (inv.port, inv.forwarding) == (80, 'dr')
    # a fault's command: the one it needs, none for those that need none
    assert inv.command('power-off', 'laicoz') == 'virsh destroy laicoz'
    assert inv.command('cable-pull', 'laicoy') is None
    with pytest.raises(ConfigError, match='power-off on laicoy needs power_off and power_on'):
        inv.command('power-off', 'laicoy')
    with pytest.raises(ConfigError, match="unknown fault 'unplug'"):
        inv.command('unplug', 'laicoz')
    assert inv.command('starve', 'laicoz') is None      # (over SSH: a cgroup of its own)


def test_a_fault_the_machines_cannot_take_is_refused_with_its_reason(tmp_path, monkeypatch):
    from topo import faults
    path = tmp_path / 'machines.yml'
    path.write_text(yaml.safe_dump(GOOD))
    monkeypatch.setattr(faults.get('hang'), 'machines_problem', 'its reason')
    with pytest.raises(ConfigError, match='hang on machines: its reason'):
        inventory.load(path).command('hang', 'laico2')


D = ['all', 'children', 'directors', 'hosts']
R = ['all', 'children', 'real_servers', 'hosts']


@pytest.mark.parametrize('path, value, message', [
    (['all'], None, "no 'all' group"),
    (['all', 'vars', 'cluster', 'vip'], None, 'cluster.vip is missing'),
    (['all', 'vars', 'cluster', 'vip'], '192.0.2.1', 'not in the subnet'),
    (['all', 'vars', 'cluster', 'subnet'], 'ten', 'does not appear to be'),
    (['all', 'vars', 'cluster', 'vipp'], '10.0.14.146', 'unknown vipp'),
    (['all', 'vars', 'cluster', 'client_addresses'], 0, 'client_addresses must be a whole'),
    (['all', 'vars', 'cluster', 'client_addresses'], '1000', 'client_addresses must be a whole'),
    (['all', 'children', 'clients'], None, 'group clients has no hosts'),
    (['all', 'children', 'routers'], {'hosts': {'r': {}}}, 'unknown group routers'),
    (D + ['laicoy'], None, 'the directors must be laicoz and laicoy'),
    (D + ['laicoy', 'address'], None, 'laicoy (director) has no address'),
    (D + ['laicoy', 'interface'], '', 'laicoy (director) has no interface'),
    (D + ['laicoy', 'ansible_host'], None, 'laicoy (director) has no ansible_host'),
    (D + ['laicoy', 'address'], '10.0.15.3', 'not in the subnet 10.0.14.0/24'),
    (D + ['laicoy', 'address'], '10.0.14.2', 'laicoz and laicoy have the same address'),
    (D + ['laicoy', 'address'], '10.0.14.146', 'the VIP 10.0.14.146 as its own address'),
    (D + ['laicoy', 'ansible_host'], '192.168.77.2', 'the same ssh 192.168.77.2'),
    (D + ['laicoz', 'power_on'], None, 'power_off without power_on'),
    (D + ['laicoy', 'link_up'], 'true', 'link_up without link_down'),
    (D + ['laicoy', 'powr_off'], 'x', 'unknown powr_off'),
    (R + ['laico3'], None, 'must be laico2, laico3, in order'),
    (['all', 'children', 'clients', 'hosts'], {'c1': {
        'ansible_host': 'c1', 'address': '10.0.14.201', 'interface': 'eth0'}},
     'one client, named client'),
])
def test_bad_inventories_are_refused_naming_what_is_wrong(path, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        inventory.parse(changed(path, value), 'machines.yml')


def with_ipv6(**cluster):
    """GOOD with the IPv6 VIP and every machine's address6 (its IPv4 host number)."""
    data = copy.deepcopy(GOOD)
    data['all']['vars']['cluster'].update(dict({'vip6': '2001:db8:14::146'}, **cluster))
    for group in data['all']['children'].values():
        for values in group['hosts'].values():
            values['address6'] = '2001:db8:14::%s' % values['address'].split('.')[-1]
    return data


def test_an_inventory_with_the_vip_s_ipv6_twin():
    inv = inventory.parse(with_ipv6())
    assert inv.vip6 == '2001:db8:14::146' and inv.subnet6 == '2001:db8:14::/64'
    assert inv.machines['laico3'].address6 == '2001:db8:14::13'
    assert inventory.parse(GOOD).vip6 is None
    for data, message in (
            (with_ipv6(vip6='2001:db8:14::147'), 'vip6 must be 2001:db8:14::146, the VIP '
                                                 '10.0.14.146\'s twin'),
            (with_ipv6(subnet6='2001:db8:15::/64'), 'must be in subnet6'),
            (with_ipv6(vip6='10.0.14.146'), 'vip6 or subnet6'),
            (changed(['all', 'vars', 'cluster', 'subnet6'], '2001:db8:14::/64'),
             'without all.vars.cluster.vip6')):
        with pytest.raises(ConfigError, match=re.escape(message)):
            inventory.parse(data)
    data = with_ipv6()
    del data['all']['children']['clients']['hosts']['client']['address6']
    with pytest.raises(ConfigError, match='client has no address6'):
        inventory.parse(data)
    data = with_ipv6()
    data['all']['children']['real_servers']['hosts']['laico2']['address6'] = '2001:db8:14::13'
    with pytest.raises(ConfigError, match='laico2 and laico3 have the same address6|laico3 '
                                          'and laico2 have the same address6'):
        inventory.parse(data)


def test_unreadable_or_not_yaml(tmp_path):
    with pytest.raises(ConfigError, match='No such file'):
        inventory.load(tmp_path / 'none.yml')
    (tmp_path / 'bad.yml').write_text('all: [unclosed\n')
    with pytest.raises(ConfigError, match='is not YAML'):
        inventory.load(tmp_path / 'bad.yml')


@pytest.mark.skipif(not shutil.which('ansible-inventory'),
                    reason='ansible-core not installed (./testbed setup)')
def test_ansible_reads_the_same_file_as_an_inventory(tmp_path):
    """The format is Ansible's own: ansible-inventory sees the groups and host variables."""
    path = tmp_path / 'machines.yml'
    path.write_text(yaml.safe_dump(GOOD))
    p = subprocess.run(['ansible-inventory', '-i', str(path), '--list'], env={
        'HOME': str(tmp_path), 'PATH': '/usr/bin:/bin', 'ANSIBLE_LOCAL_TEMP': str(tmp_path)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert p.returncode == 0, p.stderr
    seen = yaml.safe_load(p.stdout)
    assert sorted(seen['directors']['hosts']) == ['laicoy', 'laicoz']
    assert seen['_meta']['hostvars']['laico3']['interface'] == 'ens3'
    assert seen['_meta']['hostvars']['laicoz']['cluster']['vip'] == '10.0.14.146'
