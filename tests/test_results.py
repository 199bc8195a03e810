import json

import pytest

from topo import packages
from topo.engine import cli, results
from topo.engine.run import Plan
from topo.network.config import ClusterConfig


def test_results_are_never_overwritten(tmp_path, monkeypatch):
    monkeypatch.setattr(results, 'RESULTS', tmp_path)
    a = results.new_results_dir('smoke')
    b = results.new_results_dir('smoke')
    assert a != b and a.is_dir() and b.is_dir()
    assert (tmp_path / 'latest').resolve() == b
    (b / 'x').write_text('1')
    with pytest.raises(results.UsageError, match='not empty'):
        results.new_results_dir('smoke', requested=str(b))


def test_summary_says_incomplete_until_finished(tmp_path):
    s = results.Summary(tmp_path / 'summary.json', {'experiment': 't'})
    s.update(stage=1)
    assert json.loads((tmp_path / 'summary.json').read_text())['complete'] is False
    s.interrupted('SIGINT')
    d = json.loads((tmp_path / 'summary.json').read_text())
    assert d['complete'] is False and d['interrupted'] == 'SIGINT' and d['stage'] == 1
    s.finish(passed=True)
    assert json.loads((tmp_path / 'summary.json').read_text())['complete'] is True


def test_one_header_for_every_experiment():
    from topo import ha
    stack = ha.layout_stack('hot-standby', ClusterConfig())
    h = results.header(Plan('x', ClusterConfig(), stack))
    assert (h['experiment'], h['stack'], h['layout']) == ('x', 'heartbeat', 'hot-standby')
    assert h['kernel_mode'] in ('native', 'uml') and h['kernel_release']
    assert h['parameters']['stack']['hot_standby'] is True
    assert set(h['versions']) >= {'heartbeat', 'ldirectord', 'ipvsadm'}
    assert h['versions']['ipvsadm']        # installed here: a version, not None


def test_missing_packages_name_the_package(monkeypatch):
    monkeypatch.setitem(packages.NEEDS, 'fake', [('cmd', 'no-such-cmd-xyz', 'pkg-xyz'),
                                                 ('py', 'no_such_module_xyz', 'python3-xyz')])
    with pytest.raises(results.UsageError) as e:
        cli.preflight(['fake'])
    assert 'pkg-xyz' in str(e.value) and 'python3-xyz' in str(e.value)
    assert 'apt-get install' in str(e.value)


def test_setup_installs_what_every_part_and_stack_needs():
    """What ./testbed setup asks the registries for, the way it asks."""
    import subprocess
    from conftest import PYTHON, ROOT
    from topo import ha
    run = lambda *a: subprocess.run([PYTHON, '-m', 'topo.packages'] + list(a), cwd=str(ROOT),
                                    stdout=subprocess.PIPE, universal_newlines=True,
                                    check=True).stdout.split()
    setup = set(run())
    assert {p for need in packages.NEEDS.values() for _, _, p in need} <= setup
    assert {p for cls in ha.load().values() for _, _, p in cls.needs()} <= setup
    assert {'heartbeat', 'ldirectord', 'keepalived'} <= setup      # the stacks' daemons
    services = set(run('--services'))
    assert {s for cls in ha.load().values() for d in cls.daemon_classes
            for s in d.services} | {'nginx', 'ssh'} == services
