"""Bad input is refused with a clear message before anything is started."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import PYTHON, ROOT


def cluster_py(*args, user=None, root=ROOT):
    cmd = [PYTHON, str(root / 'experiments' / 'cluster.py')] + list(args)
    if user:
        cmd = ['setpriv', '--reuid', user, '--regid', user, '--clear-groups'] + cmd
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=60, cwd='/')


@pytest.mark.parametrize('args, message', [
    (['--smoke', '--scheduler', 'fifo'], 'unknown scheduler'),
    (['--smoke', '--weights', '1,2'], '2 weights given for 3 real servers'),
    (['--smoke', '--vip', '192.0.2.10'], 'not inside the testbed subnet'),
    (['--smoke', '--sandbox', 'docker'], 'invalid choice'),
    ([], 'one of the arguments --smoke --cli is required'),
    (['--smoke', '--cli-script', '/etc/hostname'], '--cli-script applies to --cli only'),
    (['--cli', '--cli-script', '/no/such/file'], 'no such readable file'),
    (['--smoke', '--stack', 'keepalived'], '--stack applies to --cli (the live lab) only'),
    (['--cli', '--deadtime', '3'], 'HA stack flags go with --stack'),
    (['--cli', '--target', str(ROOT / 'tests' / 'data' / 'machines.yml')],
     'on the emulation only'),
    (['--smoke', '--crossover'], '--crossover applies to the live lab'),
    (['--cli', '--requests', '5'], '--requests applies to --smoke only'),
])
def test_bad_arguments(args, message):
    p = cluster_py(*args)
    assert p.returncode == 2
    assert message in p.stdout
    assert 'kernel mode' not in p.stdout      # nothing was started


@pytest.fixture
def readable_copy():
    """The program in a folder any user may read: the checkout itself may be in a
    home closed to others (the test is of the program, not of the file system)."""
    path = Path(tempfile.mkdtemp(prefix='hatestbed-copy.', dir='/var/tmp'))
    for part in ('experiments', 'topo', 'controllers'):
        shutil.copytree(ROOT / part, path / part, ignore=shutil.ignore_patterns('__pycache__'))
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames + ['']:
            os.chmod(os.path.join(dirpath, name), 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_not_root_is_refused_before_anything_starts(readable_copy):
    p = cluster_py('--smoke', user='65534', root=readable_copy)
    assert p.returncode == 2, p.stdout
    assert 'run it as root' in p.stdout and 'kernel mode' not in p.stdout


def test_nonempty_results_folder_is_refused(run_dir):
    (run_dir / 'smoke.json').write_text('{}')
    p = cluster_py('--smoke', '--results', str(run_dir))
    assert p.returncode == 2 and 'never overwritten' in p.stdout
    assert (run_dir / 'smoke.json').read_text() == '{}'


def test_help_describes_the_modes():
    p = cluster_py('--help')
    assert p.returncode == 0
    for word in ('--sandbox', '--smoke', '--cli', '--weights', '--scheduler', '--results',
                 '--plan'):
        assert word in p.stdout


def test_path_flags_are_taken_from_the_folder_the_command_runs_in(tmp_path):
    """A relative path means the folder the user typed it in, through every re-execution
    and into Ansible: the plan carries it absolute."""
    import json
    shutil.copy(str(ROOT / 'tests' / 'data' / 'machines.yml'), str(tmp_path / 'machines.yml'))
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'failover.py'), '--plan',
                        '--target', 'machines.yml'], stdout=subprocess.PIPE,
                       universal_newlines=True, timeout=60, cwd=str(tmp_path), check=True)
    assert json.loads(p.stdout)['parameters']['target'] == str(tmp_path / 'machines.yml')
    for cwd, status in (('/etc', 0), (str(tmp_path), 2)):     # hostname: /etc's only
        p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'cluster.py'), '--cli',
                            '--cli-script', 'hostname', '--plan'], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=60,
                           cwd=cwd)
        assert p.returncode == status, p.stdout
