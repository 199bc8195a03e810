"""`pip install .` gives a complete copy: every package, the templates, and one
console script per experiment script that runs from anywhere. The lists come from
the checkout and the registries: a new experiment, stack or template needs no edit here."""
import os
import shutil
import subprocess

from conftest import PYTHON, ROOT
from topo import ha


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
    templates = {t for cls in ha.load().values() for d in cls.daemon_classes
                 for t in [t + '.j2' for t in d.templates] + list(d.scripts)}
    for template in templates:
        assert (target / 'topo' / 'ha' / 'templates' / template).is_file(), template
    assert (target / 'topo' / 'network' / 'templates' / 'nginx.conf.j2').is_file()
    # the deployment's playbook, every role and the node script's template
    for f in [ROOT / 'deploy' / 'site.yml', ROOT / 'deploy' / 'templates' / 'node.sh.j2'] + \
            list((ROOT / 'deploy' / 'roles').rglob('*.yml')):
        assert (target / f.relative_to(ROOT)).is_file(), f
    packages = [d.relative_to(ROOT) for d in ROOT.glob('topo/**/') if (d / '__init__.py').exists()]
    assert len(packages) > 10
    for package in packages + ['controllers', 'experiments']:
        assert (target / package / '__init__.py').is_file(), package
    scripts = ['ha-testbed-%s' % f.stem for f in (ROOT / 'experiments').glob('*.py')
               if f.stem != '__init__']
    assert sorted(os.listdir(target / 'bin')) == sorted(scripts)
    env = dict(os.environ, PYTHONPATH=str(target))
    for script in scripts:
        # from an unrelated folder, so nothing can come from the checkout
        p = subprocess.run([str(target / 'bin' / script), '--help'], cwd=str(tmp_path),
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=120)
        assert p.returncode == 0 and p.stdout.startswith('usage: '), (script, p.stdout)
    # the registries are found in the installed copy, with their templates
    p = subprocess.run([PYTHON, '-c', 'from topo import ha, faults, kernels, backends; '
                        'import topo.ha.daemons as d; print(sorted(ha.load()), '
                        'sorted(faults.load()), sorted(kernels.load()), sorted(backends.load()), '
                        'd.TEMPLATES)'], cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    from topo import backends, faults, kernels
    assert p.stdout.startswith('%s %s %s %s %s' % (
        sorted(ha.load()), sorted(faults.load()), sorted(kernels.load()),
        sorted(backends.load()), target)), p.stdout


def test_the_set_up_stops_only_the_services_of_what_it_installed():
    """On a systemd host the packages' own services start at install; the set-up stops
    those of the packages it has just installed, never one the host had before."""
    from topo import packages
    assert packages.services(['nginx-light', 'curl']) == ['nginx']
    assert packages.services(['heartbeat']) == ['heartbeat']
    assert packages.services(['keepalived', 'ldirectord']) == ['keepalived', 'ldirectord']
    assert packages.services([]) == [] and 'nginx' in packages.services()
    script = (ROOT / 'testbed').read_text()
    assert 'topo.packages --services "${missing[@]}"' in script
