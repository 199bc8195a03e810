"""The Pacemaker stack's generated configs (the CIB checked by crm_verify, corosync.conf
by `corosync -t`), its settings, and its fence agent speaking the fence-agent protocol
to the run's power switch."""
import argparse
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT, refused, stack_from_flags
from topo import ha
from topo.engine import cli
from topo.ha import ScratchDirector
from topo.ha.daemons import TEMPLATES, install_files
from topo.ha.fencing import PowerSwitch
from topo.backends.mininet.nodes import bind_order

needs_pacemaker = pytest.mark.skipif(not (shutil.which('crm_verify') and shutil.which('corosync')),
                                     reason='pacemaker/corosync not installed (./testbed setup)')
AGENT = TEMPLATES / 'fence_hatestbed'


def render(root, *argv, name='laicoz'):
    stack = stack_from_flags('pacemaker', *argv)
    director = ScratchDirector(name, root, stack.private_dirs(),
                               links=2 if stack.config.crossover else 1, inside=stack.config.nat)
    stack.configure(director)
    cib = ET.parse(director.private('/var/lib/pacemaker/cib/cib.xml')).getroot()
    corosync = open(director.private('/etc/corosync/corosync.conf')).read()
    return stack, director, cib, corosync


def props(cib):
    return {n.get('name'): n.get('value') for n in cib.iter('nvpair')
            if n.get('id', '').startswith('opt-')}


def test_the_paper_layout_is_one_group_vip_then_ldirectord_with_fencing(tmp_path):
    stack, director, cib, _ = render(tmp_path)
    [group] = cib.iter('group')
    assert [p.get('id') for p in group.iter('primitive')] == ['vip', 'ldirectord']
    assert not list(cib.iter('clone'))
    p = props(cib)
    assert p['stonith-enabled'] == 'true' and p['stonith-action'] == 'off'
    assert p['priority-fencing-delay'] == '2000ms'      # the two-node fence race
    fences = {f.get('id'): f for f in cib.iter('primitive') if f.get('class') == 'stonith'}
    assert sorted(fences) == ['fence-laicoy', 'fence-laicoz']
    assert all(f.get('type') == 'fence_hatestbed' for f in fences.values())
    # a director never runs the device that fences itself
    bans = {(c.get('rsc'), c.get('node'), c.get('score')) for c in cib.iter('rsc_location')}
    assert ('fence-laicoz', 'laicoz', '-INFINITY') in bans
    assert ('fence-laicoy', 'laicoy', '-INFINITY') in bans
    assert ('lvs', 'laicoz', '100') in bans                  # the paper's primary
    vip = {n.get('name'): n.get('value') for n in group.find('primitive').iter('nvpair')}
    assert vip['ip'] == stack.config.vip and vip['cidr_netmask'] == '24'
    assert vip['arp_count'] == '5'
    cib_file = director.private('/var/lib/pacemaker/cib/cib.xml')
    assert stat.S_IMODE(shutil.os.stat(cib_file).st_mode) == 0o600


def test_active_active_moves_each_director_s_next_hop_as_a_group_of_its_own(tmp_path):
    stack, director, cib, _ = render(tmp_path, '--active-active', '--scheduler', 'mh',
                                     '--hot-standby')
    groups = {g.get('id'): [n.get('value') for n in g.iter('nvpair') if n.get('name') == 'ip']
              for g in cib.iter('group')}
    assert groups == {'lvs': ['10.0.14.4'], 'lvs-laicoy': ['10.0.14.5']}   # not the VIP
    bans = {(c.get('rsc'), c.get('node'), c.get('score')) for c in cib.iter('rsc_location')}
    assert {('lvs', 'laicoz', '100'), ('lvs-laicoy', 'laicoy', '100')} <= bans
    together = {(c.get('rsc'), c.get('with-rsc')) for c in cib.iter('rsc_colocation')}
    assert together == {('lvs', 'ldirectord-clone'), ('lvs-laicoy', 'ldirectord-clone')}
    if shutil.which('crm_verify'):
        assert stack.self_check(director) == []
    assert '--hot-standby' in refused('load', '--conn-sync', '--ways', 'active-active',
                                      '--stack', 'pacemaker')


def test_hot_standby_clones_ldirectord_and_keeps_the_vip_with_it(tmp_path):
    _, _, cib, _ = render(tmp_path, '--hot-standby')
    [group] = cib.iter('group')
    assert [p.get('id') for p in group.iter('primitive')] == ['vip']
    [clone] = cib.iter('clone')
    assert clone.find('primitive').get('type') == 'ldirectord'
    [colo] = cib.iter('rsc_colocation')
    assert (colo.get('rsc'), colo.get('with-rsc')) == ('lvs', 'ldirectord-clone')


def test_nat_moves_the_gateway_right_after_the_vip(tmp_path):
    stack, _, cib, _ = render(tmp_path, '--forwarding', 'nat')
    [group] = cib.iter('group')
    ids = [p.get('id') for p in group.iter('primitive')]
    assert ids == ['vip', 'gateway', 'ldirectord']
    gw = [p for p in group.iter('primitive') if p.get('id') == 'gateway'][0]
    assert {n.get('name'): n.get('value') for n in gw.iter('nvpair')}['ip'] == \
        stack.config.gateway


def nics(primitive):
    """{node: the device its rule names} of an IPaddr2 primitive."""
    out = {}
    for attrs in primitive.findall('instance_attributes'):
        rule = attrs.find('rule')
        if rule is not None:
            [expr] = rule.iter('expression')
            assert (expr.get('attribute'), expr.get('operation')) == ('#uname', 'eq')
            [nic] = [n.get('value') for n in attrs.iter('nvpair') if n.get('name') == 'nic']
            out[expr.get('value')] = nic
    return out


@needs_pacemaker
def test_every_address_names_each_director_s_device(tmp_path):
    """Without `nic` IPaddr2 finds the device by the route to the address, which a
    director whose link is down has not: its monitor fails, its stop leaves the address
    in place and its start fails (one cable-pull run ended with the VIP on both
    directors for 116 s). Each director's device is named by a rule on its name."""
    _, _, cib, _ = render(tmp_path / 'nat', '--forwarding', 'nat')
    by_id = {p.get('id'): p for p in cib.iter('primitive')}
    assert nics(by_id['vip']) == {'laicoz': 'laicoz-eth0', 'laicoy': 'laicoy-eth0'}
    assert nics(by_id['gateway']) == {'laicoz': 'laicoz-lan', 'laicoy': 'laicoy-lan'}
    # on machines, each director's interface as the inventory gives it
    inventory = tmp_path / 'machines.yml'
    inventory.write_text((ROOT / 'tests' / 'data' / 'machines.yml').read_text().replace(
        'address: 10.0.14.3\n          interface: eth0', 'address: 10.0.14.3\n          interface: ens4'))
    args = argparse.Namespace(target=str(inventory), servers=3, weights=None, vip=None,
                              subnet=None)
    stack = ha.get('pacemaker')(cli.cluster_config(args), ha.get('pacemaker').Settings())
    [group] = stack.groups()
    assert group['addresses'][0]['nics'] == [['laicoz', 'eth0'], ['laicoy', 'ens4']]


@needs_pacemaker
def test_ping_keeps_the_service_and_the_fencing_where_the_clients_are_reached(tmp_path):
    """--ping: a ping resource on each director (pingd 1000 per target reached), every
    group banned where pingd is 0 or not yet known, and each director's fencing a level
    of two devices, the ping heuristic first: a director cut off from the client cannot
    fence."""
    stack, _, cib, _ = render(tmp_path, '--ping')
    pings = {p.get('id'): {n.get('name'): n.get('value') for n in p.iter('nvpair')}
             for p in cib.iter('primitive') if p.get('type') == 'ping'}
    assert set(pings) == {'reach-laicoz', 'reach-laicoy'}
    assert pings['reach-laicoz']['host_list'] == stack.config.addresses['client'] == '10.0.14.200'
    placed = {(c.get('rsc'), c.get('node'), c.get('score')) for c in cib.iter('rsc_location')}
    assert {('reach-laicoz', 'laicoy', '-INFINITY'), ('reach-laicoy', 'laicoz', '-INFINITY')} \
        <= placed
    # at the start, laicoz's pingd is known no later than laicoy's (CI once saw laicoy's
    # written alone, 1 s before laicoz's: the service started on laicoy)
    [order] = cib.iter('rsc_order')
    assert (order.get('first'), order.get('then'), order.get('kind')) == \
        ('reach-laicoz', 'reach-laicoy', 'Optional')
    [rule] = [r for r in cib.iter('rule') if r.get('id') == 'lvs-out-of-reach']
    assert rule.get('score') == '-INFINITY' and rule.get('boolean-op') == 'or'
    assert {(e.get('attribute'), e.get('operation')) for e in rule.iter('expression')} == \
        {('pingd', 'not_defined'), ('pingd', 'lte')}
    levels = {lv.get('target'): lv.get('devices') for lv in cib.iter('fencing-level')}
    assert levels == {'laicoz': 'heuristic-laicoz,fence-laicoz',
                      'laicoy': 'heuristic-laicoy,fence-laicoy'}
    heuristic = [p for p in cib.iter('primitive') if p.get('id') == 'heuristic-laicoz'][0]
    assert heuristic.get('type') == 'fence_heuristics_ping'
    bans = {(c.get('rsc'), c.get('node')) for c in cib.iter('rsc_location')}
    assert ('heuristic-laicoz', 'laicoz') in bans
    # without fencing, only the ping resource and its rule; without --ping, none of it
    _, _, cib, _ = render(tmp_path / 'off', '--ping', '--fencing', 'off')
    reach = lambda cib: [r for r in cib.iter('rule') if r.get('id') == 'lvs-out-of-reach']
    assert not list(cib.iter('fencing-level')) and reach(cib)
    _, _, cib, _ = render(tmp_path / 'none')
    assert not list(cib.iter('fencing-level')) and not reach(cib) and not [
        p for p in cib.iter('primitive') if p.get('type') == 'ping']


def test_without_fencing_there_is_no_device_and_no_delay_flag(tmp_path):
    _, _, cib, _ = render(tmp_path, '--fencing', 'off', '--nice-failback')
    assert props(cib)['stonith-enabled'] == 'false'
    assert not [p for p in cib.iter('primitive') if p.get('class') == 'stonith']
    stickiness = [n for n in cib.iter('nvpair') if n.get('name') == 'resource-stickiness']
    assert stickiness[0].get('value') == '200'          # nice failback: it stays
    assert '--fence-delay applies with --fencing on only' in refused(
        'failover', '--stack', 'pacemaker', '--fencing', 'off', '--fence-delay', '1')


def test_corosync_names_the_nodes_and_takes_the_timings(tmp_path):
    stack, director, _, text = render(tmp_path, '--token', '1000', '--crossover')
    assert 'token: 1000' in text and 'consensus: 1200' in text and 'two_node: 1' in text
    assert 'name: laicoz' in text and 'name: laicoy' in text
    assert 'ring1_addr: 169.254.77.1' in text                   # the crossover: knet link 1
    key = director.private('/etc/corosync/authkey')
    assert stat.S_IMODE(shutil.os.stat(key).st_mode) == 0o600
    other = render(tmp_path / 'b')[1].private('/etc/corosync/authkey')
    assert open(key).read() != open(other).read() and len(open(key).read()) == 256


@pytest.mark.parametrize('flags,message', [
    (['--consensus', '1000'], 'at least 1.2 x --token'),
    (['--token', '50'], 'at least 100 ms'),
    (['--arp-count', '0'], 'IPaddr2 sends 1 to 100'),
    (['--fence-delay', '-1'], '0 or more'),
    (['--deadtime', '2'], 'not a setting of the pacemaker stack'),
])
def test_impossible_settings_are_refused_before_start(flags, message):
    assert message in refused('failover', '--stack', 'pacemaker', *flags)


@needs_pacemaker
@pytest.mark.parametrize('flags', [[], ['--hot-standby', '--forwarding', 'nat'],
                                   ['--crossover', '--fencing', 'off'],
                                   ['--ping', '--hot-standby'], ['--ping', '--crossover',
                                                                 '--fencing', 'off']])
def test_the_daemons_accept_what_is_rendered_and_refuse_a_broken_one(tmp_path, flags):
    stack, director, _, _ = render(tmp_path, *flags, name='laicoy')
    assert stack.self_check(director) == []
    cib = director.private('/var/lib/pacemaker/cib/cib.xml')
    text = open(cib).read()
    open(cib, 'w').write(text.replace('rsc="lvs"', 'rsc="nothing"', 1))
    conf = director.private('/etc/corosync/corosync.conf')
    open(conf, 'w').write(open(conf).read().replace('name: laicoy', 'name: laicox'))
    problems = dict(stack.self_check(director))
    assert 'crm_verify rejects' in problems['pacemaker']
    assert 'corosync -t rejects' in problems['corosync']


def test_private_dirs_are_bound_with_the_one_holding_the_root_last():
    dirs = ['/etc/corosync', '/var/log', '/run', '/dev/shm', '/var/lib/pacemaker']
    assert bind_order(dirs, '/run/hatestbed.1.ab/nodes/laicoz') == \
        ['/etc/corosync', '/var/log', '/dev/shm', '/var/lib/pacemaker', '/run']
    assert bind_order(dirs, '/var/tmp/nodes/laicoz') == dirs


def test_the_set_up_installs_the_fence_agent_once(tmp_path):
    from topo import ha
    classes = [d for cls in ha.load().values() for d in cls.daemon_classes]
    [path] = install_files(classes, root=tmp_path)
    assert path == str(tmp_path / 'usr/sbin/fence_hatestbed')
    assert stat.S_IMODE(shutil.os.stat(path).st_mode) == 0o755
    assert install_files(classes, root=tmp_path) == []          # up to date: nothing copied


# -- the fence agent against a power switch ------------------------------------------------
class Cable:
    def __init__(self, log, name):
        self.log, self.name = log, name

    def set_links(self, up, lan_only=False):
        self.log.append(('links', self.name, up))
        return 1.0


class Backend:
    """The power primitives a PowerSwitch calls, recorded (the emulation's are exercised
    by the integration test)."""
    recorder = None

    def __init__(self):
        self.calls = []
        self.fenced_off = set()

    def __getitem__(self, name):
        return Cable(self.calls, name)

    def power_off(self, name, links):
        self.calls.append(('off', name))
        return links(False)

    def power_on(self, name, links):
        self.calls.append(('on', name))
        return links(True)


def agent(stdin):
    p = subprocess.run(['/usr/bin/python3', str(AGENT)], input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_the_fence_agent_speaks_the_protocol_to_the_power_switch():
    backend = Backend()
    switch = PowerSwitch(backend, ['laicoz', 'laicoy']).start()
    try:
        sock = 'socket=%s\n' % switch.path
        code, out = agent('action=metadata\n')
        meta = ET.fromstring(out)
        assert code == 0 and meta.get('name') == 'fence_hatestbed'
        assert {a.get('name') for a in meta.iter('action')} >= {'on', 'off', 'reboot',
                                                               'monitor', 'status', 'list'}
        assert agent('action=monitor\n' + sock)[0] == 0
        assert agent('action=status\nport=laicoy\n' + sock)[0] == 0        # on
        assert agent('action=off\nport=laicoy\n' + sock)[0] == 0
        assert agent('action=status\nport=laicoy\n' + sock)[0] == 2        # off
        assert backend.fenced_off == {'laicoy'}         # off until repaired (a fault's clear)
        assert agent('action=reboot\nplug=laicoz\n' + sock)[0] == 0
        assert backend.calls == [('off', 'laicoy'), ('links', 'laicoy', False),
                                 ('off', 'laicoz'), ('links', 'laicoz', False),
                                 ('on', 'laicoz'), ('links', 'laicoz', True)]
        assert [(a, n) for _, a, n in switch.fenced] == [('off', 'laicoy'), ('reboot', 'laicoz')]
        code, out = agent('action=off\nport=laico2\n' + sock)
        assert code == 1 and 'no node' in out and len(backend.calls) == 6
        assert agent('action=off\nport=laicoy\n')[0] == 1                  # no socket
    finally:
        switch.stop()
    code, out = agent('action=off\nport=laicoy\nsocket=%s\n' % switch.path)
    assert code == 1 and 'did not answer' in out                           # the run is over
    assert not switch.dir.exists()


def test_fencing_on_machines_without_power_commands_is_refused_before_anything_starts():
    """This inventory has laicoz's power commands, not laicoy's: no deployment."""
    from conftest import PYTHON, ROOT
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'deploy.py'), '--stack', 'pacemaker',
                        '--inventory', str(ROOT / 'tests' / 'data' / 'machines.yml')],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=60)
    assert p.returncode == 2 and "error: pacemaker fences through the inventory's power (or " \
        '--fencing off): power-off on laicoy needs power_off and power_on' in p.stdout, p.stdout
