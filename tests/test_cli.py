"""Bad input is refused with a clear message before anything is started."""
import subprocess

import pytest

from conftest import PYTHON, ROOT


def cluster_py(*args, user=None):
    cmd = [PYTHON, str(ROOT / 'experiments' / 'cluster.py')] + list(args)
    if user:
        cmd = ['setpriv', '--reuid', user, '--regid', user, '--clear-groups'] + cmd
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=60)


@pytest.mark.parametrize('args, message', [
    (['--smoke', '--scheduler', 'fifo'], 'unknown scheduler'),
    (['--smoke', '--weights', '1,2'], '2 weights given for 3 real servers'),
    (['--smoke', '--vip', '192.0.2.10'], 'not inside the testbed subnet'),
    (['--smoke', '--sandbox', 'docker'], 'invalid choice'),
    ([], 'one of the arguments --smoke --cli is required'),
])
def test_bad_arguments(args, message):
    p = cluster_py(*args)
    assert p.returncode == 2
    assert message in p.stdout
    assert 'kernel mode' not in p.stdout      # nothing was started


def test_not_root_is_refused_before_anything_starts():
    p = cluster_py('--smoke', user='65534')
    assert p.returncode == 2
    assert 'run it as root' in p.stdout and 'kernel mode' not in p.stdout


def test_nonempty_results_folder_is_refused(run_dir):
    (run_dir / 'smoke.json').write_text('{}')
    p = cluster_py('--smoke', '--results', str(run_dir))
    assert p.returncode == 2 and 'never overwritten' in p.stdout
    assert (run_dir / 'smoke.json').read_text() == '{}'


def test_help_describes_the_modes():
    p = cluster_py('--help')
    assert p.returncode == 0
    for word in ('--sandbox', '--smoke', '--cli', '--weights', '--scheduler', '--results'):
        assert word in p.stdout
