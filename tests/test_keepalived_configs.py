"""The keepalived stack's generated config, checked by `keepalived -t`."""
import shutil
import stat

import pytest

from conftest import refused, stack_from_flags
from topo.ha import ScratchDirector

needs_keepalived = pytest.mark.skipif(not shutil.which('keepalived'),
                                      reason='keepalived not installed (./testbed setup)')


def render(root, *argv):
    stack = stack_from_flags('keepalived', *argv)
    director = ScratchDirector('laicoz', root, stack.private_dirs(), inside=stack.config.nat)
    [path] = stack.configure(director)
    return stack, director, path


def test_subsecond_adverts_use_vrrp3_without_password(tmp_path):
    text = render(tmp_path)[2].read_text()
    assert 'vrrp_version 3' in text and 'advert_int 0.2' in text
    assert 'authentication' not in text                 # VRRPv3 has none
    assert 'state MASTER' in text and 'priority 150' in text and 'nopreempt' not in text
    assert text.count('real_server ') == 3 and 'lvs_method DR' in text
    assert 'inhibit_on_failure' not in text             # a dead server leaves the table


def test_each_forwarding_method_is_keepalived_s_lvs_method(tmp_path):
    assert 'lvs_method DR' in render(tmp_path / 'dr', '--forwarding', 'dr')[2].read_text()
    assert 'lvs_method TUN' in render(tmp_path / 'tun', '--forwarding', 'tun')[2].read_text()
    assert 'lvs_method TUN type gue port 6080' in render(
        tmp_path / 'gue', '--forwarding', 'tun', '--tun-type', 'gue')[2].read_text()
    assert 'VI_GW' not in render(tmp_path / 'dr2')[2].read_text()


def test_nat_moves_the_gateway_in_a_sync_group_with_the_vip(tmp_path):
    stack = stack_from_flags('keepalived', '--forwarding', 'nat')
    director = ScratchDirector('laicoy', tmp_path, stack.private_dirs(), inside=True)
    [path] = stack.configure(director)
    text = path.read_text()
    assert 'lvs_method NAT' in text and 'real_server 192.168.14.12 80' in text
    gw = text[text.index('vrrp_instance VI_GW'):text.index('vrrp_sync_group')]
    assert 'interface laicoy-lan' in gw and '192.168.14.254/24 dev laicoy-lan' in gw
    assert 'state BACKUP' in gw and 'priority 100' in gw and 'virtual_router_id 15' in gw
    assert 'VI_LVS' in text[text.index('vrrp_sync_group'):]
    assert stack.self_check(director) == [] if shutil.which('keepalived') else True


def test_whole_second_adverts_get_a_per_run_password(tmp_path):
    a = render(tmp_path / 'a', '--advert-int', '1')[2]
    b = render(tmp_path / 'b', '--advert-int', '1')[2]
    pw = [line.split()[1] for line in a.read_text().splitlines() if 'auth_pass' in line]
    assert len(pw) == 1 and len(pw[0]) == 8 and 'vrrp_version 2' in a.read_text()
    assert pw[0] not in b.read_text()
    assert stat.S_IMODE(a.stat().st_mode) == 0o600


def test_nice_failback_is_nopreempt_from_backup_state(tmp_path):
    text = render(tmp_path, '--nice-failback')[2].read_text()
    assert 'nopreempt' in text and 'state BACKUP' in text and 'priority 150' in text


@pytest.mark.parametrize('argv, message', [(['--advert-int', '1.5'], 'whole seconds'),
                                           (['--advert-int', '0'], '0.01 to 255'),
                                           (['--hot-standby'], '--hot-standby belongs to '
                                                               'heartbeat')])
def test_bad_or_foreign_settings_are_refused(argv, message):
    assert message in refused('failover', '--stack', 'keepalived', *argv)


@needs_keepalived
@pytest.mark.parametrize('argv', [[], ['--advert-int', '1'], ['--nice-failback'],
                                  ['--forwarding', 'tun'], ['--forwarding', 'nat'],
                                  ['--forwarding', 'tun', '--tun-type', 'gue'],
                                  ['--forwarding', 'tun', '--tun-type', 'gre'],
                                  ['--scheduler', 'mh', '--sched-flags', 'mh-port,mh-fallback'],
                                  ['--scheduler', 'sh', '--sched-flags', 'sh-port']])
def test_keepalived_accepts_the_generated_config(tmp_path, argv):
    stack, director, _ = render(tmp_path, *argv)
    assert stack.self_check(director) == []


def test_a_hashing_scheduler_and_its_flags_are_keepalived_s_words(tmp_path):
    text = render(tmp_path, '--scheduler', 'mh', '--sched-flags', 'mh-port,mh-fallback',
                  '--sloppy-tcp')[2].read_text()
    lines = [line.strip() for line in text.splitlines()]
    at = lines.index('lvs_sched mh')
    assert lines[at + 1:at + 3] == ['mh-port', 'mh-fallback']
    stack = stack_from_flags('keepalived', '--sloppy-tcp')
    director = ScratchDirector('laicoy', tmp_path / 'b', stack.private_dirs())
    steps = stack.boot_steps(director)          # the first thing a director's boot runs
    assert 'net.ipv4.vs.sloppy_tcp=1' in steps[0].command and len(steps) == 1 + len(
        stack.boot(director))
    assert 'sloppy' not in ' '.join(s.command for s in stack_from_flags(
        'keepalived').boot_steps(director))


@needs_keepalived
def test_keepalived_rejects_a_broken_config(tmp_path):
    stack, director, path = render(tmp_path)
    path.write_text(path.read_text().replace('lvs_method DR', 'lvs_method NOPE'))
    [(daemon, problem)] = stack.self_check(director)
    assert daemon == 'keepalived' and 'rejects' in problem


def test_a_crossover_cable_carries_the_adverts_unicast(tmp_path):
    stack = stack_from_flags('keepalived', '--crossover')
    director = ScratchDirector('laicoy', tmp_path, stack.private_dirs(), links=2)
    [path] = stack.configure(director)
    text = path.read_text()
    assert 'unicast_src_ip 169.254.77.2' in text and '169.254.77.1' in text
    assert 'interface laicoy-eth1' in text          # the adverts' socket is on the cable
    assert 'dev laicoy-eth0' in text and 'track_interface {\n        laicoy-eth0' in text
    if shutil.which('keepalived'):
        assert stack.self_check(director) == []


def test_active_active_makes_each_director_master_of_its_own_next_hop(tmp_path):
    stack = stack_from_flags('keepalived', '--active-active', '--scheduler', 'mh')
    texts = {}
    for name in ('laicoz', 'laicoy'):
        director = ScratchDirector(name, tmp_path / name, stack.private_dirs())
        [path] = stack.configure(director)
        texts[name] = path.read_text()
        if shutil.which('keepalived'):
            assert stack.self_check(director) == []
    for name, text in texts.items():
        a = text[text.index('vrrp_instance VI_LVS {'):text.index('vrrp_instance VI_LVS_B')]
        b = text[text.index('vrrp_instance VI_LVS_B'):text.index('virtual_server')]
        assert '10.0.14.4/24' in a and '10.0.14.5/24' in b        # next hops, not the VIP
        mine, other = (a, b) if name == 'laicoz' else (b, a)
        assert 'state MASTER' in mine and 'priority 150' in mine
        assert 'state BACKUP' in other and 'priority 100' in other
        assert 'vrrp_sync_group' not in text        # each moves alone
        assert 'virtual_server 10.0.14.146 80' in text and 'lvs_sched mh' in text
        assert '10.0.14.146/' not in text           # the VIP is on lo, not moved


def test_a_stack_that_cannot_run_active_active_says_which_can():
    from topo import ha
    from topo.network.config import ClusterConfig, ConfigError
    single = ha.get('single')
    with pytest.raises(ConfigError, match='--stack heartbeat or --stack keepalived or '
                                          '--stack pacemaker'):
        single(ClusterConfig(scheduler='mh', active_active=True))
