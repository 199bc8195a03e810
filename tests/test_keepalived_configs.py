"""The keepalived stack's generated config, checked by `keepalived -t`."""
import shutil
import stat
import subprocess

import pytest

from experiments import failover
from test_heartbeat_configs import FakeDirector
from topo.stacks.keepalived import KeepalivedStack

needs_keepalived = pytest.mark.skipif(not shutil.which('keepalived'),
                                      reason='keepalived not installed (./testbed setup)')


def render(root, *argv):
    args = failover.parse_args(['--stack', 'keepalived'] + list(argv))
    [path] = KeepalivedStack(args.config, args).configure(FakeDirector(root))
    return path


def keepalived_test(path):
    """keepalived's own config test, in a namespace that has the director's interface."""
    script = ('ip link add laicoz-eth0 type veth peer name peer0 && '
              'ip link set laicoz-eth0 up && keepalived -t -f %s' % path)
    p = subprocess.run(['unshare', '-n', 'sh', '-c', script], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    return p.returncode, p.stdout


def test_subsecond_adverts_use_vrrp3_without_password(tmp_path):
    text = render(tmp_path).read_text()
    assert 'vrrp_version 3' in text and 'advert_int 0.2' in text
    assert 'authentication' not in text                 # VRRPv3 has none
    assert 'state MASTER' in text and 'priority 150' in text and 'nopreempt' not in text
    assert text.count('real_server ') == 3 and 'lvs_method DR' in text
    assert 'inhibit_on_failure' not in text             # a dead server leaves the table


def test_whole_second_adverts_get_a_per_run_password(tmp_path):
    a = render(tmp_path / 'a', '--advert-int', '1')
    b = render(tmp_path / 'b', '--advert-int', '1')
    pw = [line.split()[1] for line in a.read_text().splitlines() if 'auth_pass' in line]
    assert len(pw) == 1 and len(pw[0]) == 8 and 'vrrp_version 2' in a.read_text()
    assert pw[0] not in b.read_text()
    assert stat.S_IMODE(a.stat().st_mode) == 0o600


def test_nice_failback_is_nopreempt_from_backup_state(tmp_path):
    text = render(tmp_path, '--nice-failback').read_text()
    assert 'nopreempt' in text and 'state BACKUP' in text and 'priority 150' in text


@pytest.mark.parametrize('argv, message', [(['--advert-int', '1.5'], 'whole seconds'),
                                           (['--advert-int', '0'], '0.01 to 255')])
def test_bad_advert_interval_is_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        failover.parse_args(['--stack', 'keepalived'] + argv)
    assert message in capsys.readouterr().err


@needs_keepalived
@pytest.mark.parametrize('argv', [[], ['--advert-int', '1'], ['--nice-failback']])
def test_keepalived_accepts_the_generated_config(tmp_path, argv):
    code, out = keepalived_test(render(tmp_path, *argv))
    assert code == 0, out


@needs_keepalived
def test_keepalived_rejects_a_broken_config(tmp_path):
    path = render(tmp_path)
    path.write_text(path.read_text().replace('lvs_method DR', 'lvs_method NOPE'))
    code, out = keepalived_test(path)
    assert code != 0, out
