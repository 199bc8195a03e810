"""The heartbeat stack's generated configs, checked by the daemons themselves.

heartbeat validates ha.cf at start ("Configuration validated"), ldirectord
parses its config for `status`; both run here in throwaway namespaces so
the host's /etc/ha.d, /run and /var/log are never touched.
"""
import argparse
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from experiments import failover
from topo import stacks
from topo.config import ConfigError
from topo.stacks.heartbeat import HeartbeatStack

needs_daemons = pytest.mark.skipif(
    not os.path.exists('/usr/libexec/heartbeat/heartbeat') or not shutil.which('ldirectord'),
    reason='heartbeat/ldirectord not installed (./testbed setup installs them)')


class FakeIntf:
    name = 'laicoz-eth0'


class FakeDirector:
    """What the daemons' render() needs of a Director: name, interface, private dirs."""
    name = 'laicoz'

    def __init__(self, root):
        self.root = Path(root)

    def defaultIntf(self):
        return FakeIntf()

    def private(self, path):
        return str(self.root / path.lstrip('/'))


def render(tmp_path, *argv):
    args = failover.parse_args(list(argv))
    stack = HeartbeatStack(args.config, args)
    return stack, stack.configure(FakeDirector(tmp_path))


def test_rendered_files_and_secret(tmp_path):
    stack, paths = render(tmp_path / 'a', '--keepalive', '0.2', '--deadtime', '2')
    etc = tmp_path / 'a' / 'etc' / 'ha.d'
    ha = (etc / 'ha.cf').read_text()
    for line in ('keepalive 200ms', 'deadtime 2000ms', 'warntime 1100ms', 'initdead 10000ms',
                 'bcast laicoz-eth0', 'auto_failback on', 'node laicoz', 'node laicoy', 'crm no'):
        assert line in ha.splitlines()
    assert (etc / 'haresources').read_text().splitlines()[-1] == \
        'laicoz VIP::10.0.14.146/24 LVSDirector::ldirectord.cf'
    auth = etc / 'authkeys'
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    secret = auth.read_text().split()[-1]
    assert len(secret) == 40
    _, _ = render(tmp_path / 'b')
    assert (tmp_path / 'b' / 'etc' / 'ha.d' / 'authkeys').read_text().split()[-1] != secret
    assert os.access(etc / 'resource.d' / 'VIP', os.X_OK)
    ld = (etc / 'ldirectord.cf').read_text()
    assert 'quiescent=no' in ld and 'checktype=negotiate' in ld
    assert '\treal=10.0.14.12:80 gate 1' in ld and 'scheduler=rr' in ld


def test_stock_resources_and_nice_failback(tmp_path):
    render(tmp_path, '--resources', 'stock', '--nice-failback', '--weights', '2,3,4',
           '--scheduler', 'wrr')
    etc = tmp_path / 'etc' / 'ha.d'
    assert (etc / 'haresources').read_text().splitlines()[-1] == \
        'laicoz IPaddr2::10.0.14.146/24 ldirectord::ldirectord.cf'
    assert 'auto_failback off' in (etc / 'ha.cf').read_text()
    ld = (etc / 'ldirectord.cf').read_text()
    assert '\treal=10.0.14.14:80 gate 4' in ld and 'scheduler=wrr' in ld


@pytest.mark.parametrize('argv, message', [
    (['--keepalive', '0.5', '--deadtime', '1'], 'more than twice'),
    (['--deadtime', '2', '--warntime', '3'], 'must lie between'),
    (['--deadtime', '12'], '--initdead'),
    (['--check-interval', '0'], 'whole seconds'),
])
def test_impossible_timings_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        failover.parse_args(argv)        # the experiment refuses them before anything starts
    assert e.value.code == 2 and message in capsys.readouterr().err
    p = argparse.ArgumentParser()
    stacks.add_arguments(p)
    with pytest.raises(ConfigError, match=message):
        stacks.check_arguments('heartbeat', p.parse_args(argv))


def heartbeat_validates(etc):
    """Start heartbeat on etc/ in private namespaces; its verdict on the configuration."""
    work = etc.parent
    for d in ('log', 'run', 'lib'):
        (work / d).mkdir(exist_ok=True)
    shutil.copytree('/var/lib/heartbeat', work / 'lib', symlinks=True, dirs_exist_ok=True)
    script = f'''
mount --make-rprivate /
hostname laicoz
ip link add laicoz-eth0 type veth peer name peer0
ip addr add 10.0.14.2/24 dev laicoz-eth0; ip link set laicoz-eth0 up; ip link set lo up
mount --bind {etc} /etc/ha.d
mount --bind {work}/run /run
mkdir -p /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/rsctmp
chown -R hacluster:haclient /run/heartbeat
mount --bind {work}/log /var/log
mount --bind {work}/lib /var/lib/heartbeat
/usr/libexec/heartbeat/heartbeat
for i in $(seq 50); do grep -q -e 'Configuration validated' -e 'onfiguration error' \
  /var/log/ha-log 2>/dev/null && break; sleep 0.1; done
'''     # leaving the PID namespace kills whatever heartbeat started
    subprocess.run(['unshare', '--fork', '--pid', '--mount-proc', '-m', '-n', '-u',
                    'sh', '-c', script], timeout=60, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT)
    return (work / 'log' / 'ha-log').read_text()


def rendered_ha_d(tmp_path):
    """The generated configs in a full /etc/ha.d (the package's scripts beside them)."""
    render(tmp_path)
    etc = tmp_path / 'etc' / 'ha.d'
    shutil.copytree('/etc/ha.d', etc, symlinks=True, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns('ha.cf', 'haresources', 'authkeys',
                                                  'ldirectord.cf'))
    return etc


@needs_daemons
def test_heartbeat_accepts_the_generated_config(tmp_path):
    log = heartbeat_validates(rendered_ha_d(tmp_path))
    assert 'Configuration validated' in log, log


@needs_daemons
def test_heartbeat_rejects_a_broken_config(tmp_path):
    etc = rendered_ha_d(tmp_path)
    ha = etc / 'ha.cf'
    ha.write_text(ha.read_text().replace('bcast laicoz-eth0', 'bcast nosuch-eth9'))
    log = heartbeat_validates(etc)
    assert 'Configuration validated' not in log and 'onfiguration error' in log


def ldirectord_status(cf):
    p = subprocess.run(['unshare', '-m', 'sh', '-c',
                        'mount --make-rprivate / && mount -t tmpfs tmpfs /var/log && '
                        'mount -t tmpfs tmpfs /run && ldirectord %s status' % cf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=60)
    return p.returncode, p.stdout


@needs_daemons
def test_ldirectord_parses_the_generated_config(tmp_path):
    render(tmp_path)
    cf = tmp_path / 'etc' / 'ha.d' / 'ldirectord.cf'
    code, out = ldirectord_status(cf)
    assert code == 3 and 'Error' not in out, out      # 3: parsed fine, not running
    cf.write_text(cf.read_text() + 'connecttimeout=1\n')
    code, out = ldirectord_status(cf)
    assert code not in (0, 3), out
