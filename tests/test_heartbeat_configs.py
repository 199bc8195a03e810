"""The heartbeat stack's settings and generated configs, checked by the daemons themselves.

heartbeat validates ha.cf at start ("Configuration validated"), ldirectord
parses its config for `status`; both run in throwaway namespaces (the
daemons' own self_check, which every experiment runs before it starts), so
the host's /etc/ha.d, /run and /var/log are never touched.
"""
import os
import shutil
import stat
import subprocess

import pytest

from conftest import PYTHON, ROOT, refused, stack_from_flags
from topo import ha
from topo.ha import ScratchDirector
from topo.ha.stacks.heartbeat import HeartbeatStack
from topo.network.config import ClusterConfig, ConfigError

needs_daemons = pytest.mark.skipif(
    not os.path.exists('/usr/libexec/heartbeat/heartbeat') or not shutil.which('ldirectord'),
    reason='heartbeat/ldirectord not installed (./testbed setup installs them)')


def render(root, *argv):
    stack = stack_from_flags('heartbeat', *argv)
    director = ScratchDirector('laicoz', root, stack.private_dirs(), inside=stack.config.nat)
    stack.configure(director)
    return stack, director


def test_rendered_files_and_secret(tmp_path):
    stack, laicoz = render(tmp_path / 'a', '--keepalive', '0.2', '--deadtime', '2')
    etc = tmp_path / 'a' / 'laicoz' / 'etc' / 'ha.d'
    ha_cf = (etc / 'ha.cf').read_text()
    for line in ('keepalive 200ms', 'deadtime 2000ms', 'warntime 1100ms', 'initdead 10000ms',
                 'bcast laicoz-eth0', 'auto_failback on', 'node laicoz', 'node laicoy', 'crm no'):
        assert line in ha_cf.splitlines()
    assert (etc / 'haresources').read_text().splitlines()[-1] == \
        'laicoz VIP::10.0.14.146/24 LVSDirector::ldirectord.cf'
    auth = etc / 'authkeys'
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    secret = auth.read_text().split()[-1]
    assert len(secret) == 40
    render(tmp_path / 'b')
    assert (tmp_path / 'b' / 'laicoz' / 'etc' / 'ha.d' / 'authkeys').read_text().split()[-1] \
        != secret
    assert os.access(etc / 'resource.d' / 'VIP', os.X_OK)
    ld = (etc / 'ldirectord.cf').read_text()
    assert 'quiescent=no' in ld and 'checktype=negotiate' in ld
    assert '\treal=10.0.14.12:80 gate 1' in ld and 'scheduler=rr' in ld


def test_a_hashing_scheduler_and_its_flags_are_ldirectord_s_words(tmp_path):
    render(tmp_path, '--scheduler', 'sh', '--sched-flags', 'sh-port')
    cf = (tmp_path / 'laicoz' / 'etc' / 'ha.d' / 'ldirectord.cf').read_text().splitlines()
    assert '\tscheduler=sh' in cf and '\tschedflags=sh-port' in cf
    render(tmp_path / 'b')
    cf = (tmp_path / 'b' / 'laicoz' / 'etc' / 'ha.d' / 'ldirectord.cf').read_text()
    assert 'schedflags' not in cf


def test_each_forwarding_method_is_ldirectord_s_word_for_it(tmp_path):
    for method, word in (('dr', 'gate'), ('tun', 'ipip'), ('nat', 'masq')):
        render(tmp_path / method, '--forwarding', method)
        cf = (tmp_path / method / 'laicoz' / 'etc' / 'ha.d' / 'ldirectord.cf').read_text()
        assert cf.count(' %s 1' % word) == 3, cf


def test_ldirectord_refuses_a_tunnel_it_cannot_name(tmp_path):
    # ldirectord's only tunnel word is 'ipip': GUE and GRE are keepalived's
    for tun in ('gue', 'gre'):
        with pytest.raises(ConfigError, match='use --stack keepalived'):
            render(tmp_path / tun, '--forwarding', 'tun', '--tun-type', tun)
    for flags in ([], ['--hot-standby']):
        stack = stack_from_flags('heartbeat', '--forwarding', 'tun', '--tun-type', 'gre', *flags)
        with pytest.raises(ConfigError, match='ldirectord knows only IPIP'):
            ha.check_configs(stack)


def test_nat_resources_move_the_gateway_after_the_vip():
    lean = stack_from_flags('heartbeat', '--forwarding', 'nat')
    assert lean.resources() == [['laicoz', 'VIP::10.0.14.146/24 VIP::192.168.14.254/24 '
                                           'LVSDirector::ldirectord.cf']]
    stock = stack_from_flags('heartbeat', '--forwarding', 'nat', '--hot-standby',
                             '--resources', 'stock')
    assert stock.resources() == [['laicoz', 'IPaddr2::10.0.14.146/24 '
                                            'IPaddr2::192.168.14.254/24']]


def test_active_active_gives_each_director_its_own_next_hop_to_own(tmp_path):
    render(tmp_path, '--active-active', '--scheduler', 'mh', '--hot-standby')
    lines = (tmp_path / 'laicoz' / 'etc' / 'ha.d' / 'haresources').read_text().splitlines()
    assert [line for line in lines if line and not line.startswith('#')] == [
        'laicoz VIP::10.0.14.4/24', 'laicoy VIP::10.0.14.5/24']
    assert '--hot-standby' in refused('load', '--conn-sync', '--ways', 'active-active')


def test_stock_resources_and_nice_failback(tmp_path):
    render(tmp_path, '--resources', 'stock', '--nice-failback', '--weights', '2,3,4',
           '--scheduler', 'wrr')
    etc = tmp_path / 'laicoz' / 'etc' / 'ha.d'
    assert (etc / 'haresources').read_text().splitlines()[-1] == \
        'laicoz IPaddr2::10.0.14.146/24 ldirectord::ldirectord.cf'
    assert 'auto_failback off' in (etc / 'ha.cf').read_text()
    ld = (etc / 'ldirectord.cf').read_text()
    assert '\treal=10.0.14.14:80 gate 4' in ld and 'scheduler=wrr' in ld


def test_the_stack_knows_its_directories_processes_and_logs():
    stack = HeartbeatStack(ClusterConfig())
    assert set(stack.private_dirs()) == {'/etc/ha.d', '/var/lib/heartbeat', '/var/log', '/run'}
    assert 'heartbeat' in stack.processes() and 'ldirectord' in stack.processes()
    assert stack.logs(ScratchDirector('laicoz', '/nowhere')) == \
        ['/var/log/ha-log', '/var/log/ldirectord.log']
    assert stack.backup_table_warm is False
    assert HeartbeatStack(ClusterConfig(), HeartbeatStack.Settings(hot_standby=True)) \
        .backup_table_warm is True


@pytest.mark.parametrize('argv, message', [
    (['--keepalive', '0.5', '--deadtime', '1'], 'more than twice'),
    (['--deadtime', '2', '--warntime', '3'], 'must lie between'),
    (['--deadtime', '12'], '--initdead'),
    (['--check-interval', '0'], 'whole seconds'),
    (['--advert-int', '0.5'], '--advert-int belongs to keepalived'),
])
def test_impossible_or_foreign_settings_are_refused(argv, message):
    assert message in refused('failover', *argv)    # before anything starts


def test_settings_are_checked_without_a_command_line():
    with pytest.raises(ConfigError, match='more than twice'):
        HeartbeatStack.Settings().replace(deadtime=0.4)
    assert HeartbeatStack.Settings().replace(deadtime=2, keepalive=0.5).warntime_s == 1.25


def test_a_foreign_flag_is_refused_before_anything_starts():
    """The command itself: exit 2 and the reason, nothing started."""
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'failover.py'), '--stack',
                        'keepalived', '--deadtime', '5'], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert p.returncode == 2 and '--deadtime belongs to heartbeat' in p.stdout
    assert 'kernel mode' not in p.stdout


@needs_daemons
@pytest.mark.parametrize('argv', [[], ['--hot-standby', '--resources', 'stock'],
                                  ['--forwarding', 'tun'], ['--forwarding', 'nat'],
                                  ['--scheduler', 'mh', '--sched-flags', 'mh-fallback,mh-port']])
def test_the_daemons_accept_the_generated_configs(tmp_path, argv):
    stack, laicoz = render(tmp_path, *argv)
    assert stack.self_check(laicoz) == []


@needs_daemons
def test_heartbeat_rejects_a_broken_config(tmp_path):
    stack, laicoz = render(tmp_path)
    path = tmp_path / 'laicoz' / 'etc' / 'ha.d' / 'ha.cf'
    path.write_text(path.read_text().replace('bcast laicoz-eth0', 'bcast nosuch-eth9'))
    [(daemon, problem)] = stack.self_check(laicoz)
    assert daemon == 'heartbeat' and 'rejects its configuration' in problem


@needs_daemons
def test_ldirectord_rejects_a_broken_config(tmp_path):
    stack, laicoz = render(tmp_path)
    cf = tmp_path / 'laicoz' / 'etc' / 'ha.d' / 'ldirectord.cf'
    cf.write_text(cf.read_text() + 'connecttimeout=1\n')     # fatal for Debian 12's ldirectord
    [(daemon, problem)] = stack.self_check(laicoz)
    assert daemon == 'ldirectord' and 'rejects its configuration' in problem


@needs_daemons
def test_check_configs_renders_both_directors_and_passes():
    ha.check_configs(HeartbeatStack(ClusterConfig()))      # raises ConfigError if refused


@needs_daemons
def test_resource_messages_reach_heartbeat_in_one_piece(tmp_path):
    """The start-up race's cure: ha_clustermsg writes the whole message at once (a
    FIFO write below PIPE_BUF is atomic), so heartbeat's 1 s read alarm cannot split it."""
    render(tmp_path)
    shellfuncs = tmp_path / 'laicoz' / 'etc' / 'ha.d' / 'shellfuncs'
    body = shellfuncs.read_text().split('ha_clustermsg() {')[1].split('\n}')[0]
    assert '| cat -' not in body and body.count('>> $HA_FIFO') == 1
    out = tmp_path / 'fifo-stand-in'
    p = subprocess.run(['sh', '-c', '. %s; printf "t=ip-request-resp\\ndest=laicoz\\n" | '
                        'ha_clustermsg' % shellfuncs], env=dict(os.environ, HA_FIFO=str(out)),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert p.returncode == 0, p.stdout
    assert out.read_text() == '>>>\nt=ip-request-resp\ndest=laicoz\n<<<\n'
    if shutil.which('strace'):
        trace = subprocess.run(['strace', '-f', '-e', 'trace=write', 'sh', '-c',
                                '. %s; echo x=1 | ha_clustermsg' % shellfuncs],
                               env=dict(os.environ, HA_FIFO=str(out)), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True).stdout
        assert len([line for line in trace.splitlines() if '>>>' in line]) == 1
        assert not any(line.endswith('">>>\\n", 4) = 4') for line in trace.splitlines())


def test_a_crossover_cable_is_a_second_heartbeat_path(tmp_path):
    stack = stack_from_flags('heartbeat', '--crossover')
    director = ScratchDirector('laicoz', tmp_path, stack.private_dirs(), links=2)
    stack.configure(director)
    assert 'bcast laicoz-eth0 laicoz-eth1' in \
        (tmp_path / 'laicoz' / 'etc' / 'ha.d' / 'ha.cf').read_text().splitlines()
    if os.path.exists('/usr/libexec/heartbeat/heartbeat'):
        assert stack.self_check(director) == []
