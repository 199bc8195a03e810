"""`pip install .` gives a complete copy: every package, the templates, and one
console script per experiment (and plot) that runs from anywhere."""
import os
import shutil
import subprocess

from conftest import PYTHON, ROOT

SCRIPTS = ['ha-testbed-cluster', 'ha-testbed-failover', 'ha-testbed-faults', 'ha-testbed-load',
           'ha-testbed-schedulers', 'ha-testbed-sweep', 'ha-testbed-plot-failover',
           'ha-testbed-plot-faults', 'ha-testbed-plot-load', 'ha-testbed-plot-schedulers',
           'ha-testbed-plot-sweep']


def test_pip_install_into_an_empty_target_and_every_console_script(tmp_path):
    src, target = tmp_path / 'src', tmp_path / 'target'
    # a copy of the sources, so the build leaves nothing in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        '.git', 'results', '__pycache__', '*.egg-info', 'build', '.pytest_cache'))
    p = subprocess.run([PYTHON, '-m', 'pip', 'install', '--no-deps', '--no-build-isolation',
                        '--no-index', '--target', str(target), str(src)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=300)
    assert p.returncode == 0, p.stdout
    for template in ('ha.cf', 'haresources', 'authkeys', 'ldirectord.cf', 'keepalived.conf',
                     'resource.d/VIP', 'resource.d/LVSDirector'):
        assert (target / 'topo' / 'ha' / 'templates' / template).is_file(), template
    for package in ('topo/network', 'topo/ha/stacks', 'topo/ha/daemons', 'topo/agents',
                    'topo/faults', 'controllers', 'experiments'):
        assert (target / package / '__init__.py').is_file(), package
    assert sorted(os.listdir(target / 'bin')) == sorted(SCRIPTS)
    env = dict(os.environ, PYTHONPATH=str(target))
    for script in SCRIPTS:
        # from an unrelated folder, so nothing can come from the checkout
        p = subprocess.run([str(target / 'bin' / script), '--help'], cwd=str(tmp_path),
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=120)
        assert p.returncode == 0 and p.stdout.startswith('usage: '), (script, p.stdout)
    # the stacks are found in the installed copy, with their templates
    p = subprocess.run([PYTHON, '-c', 'from topo import ha; from topo.network.config import '
                        'ClusterConfig; import topo.ha.daemons as d; print(sorted(ha.load()), '
                        'd.TEMPLATES)'], cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert p.stdout.startswith("['heartbeat', 'keepalived'] %s" % target), p.stdout
