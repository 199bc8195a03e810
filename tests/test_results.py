import json

import pytest

from experiments import common


def test_results_are_never_overwritten(tmp_path, monkeypatch):
    monkeypatch.setattr(common, 'RESULTS', tmp_path)
    a = common.new_results_dir('smoke')
    b = common.new_results_dir('smoke')
    assert a != b and a.is_dir() and b.is_dir()
    assert (tmp_path / 'latest').resolve() == b
    (b / 'x').write_text('1')
    with pytest.raises(common.UsageError, match='not empty'):
        common.new_results_dir('smoke', requested=str(b))


def test_summary_says_incomplete_until_finished(tmp_path):
    s = common.Summary(tmp_path / 'summary.json', experiment='t')
    s.update(stage=1)
    assert json.loads((tmp_path / 'summary.json').read_text())['complete'] is False
    s.interrupted('SIGINT')
    d = json.loads((tmp_path / 'summary.json').read_text())
    assert d['complete'] is False and d['interrupted'] == 'SIGINT' and d['stage'] == 1
    s.finish(passed=True)
    assert json.loads((tmp_path / 'summary.json').read_text())['complete'] is True


def test_missing_packages_name_the_package(monkeypatch):
    monkeypatch.setitem(common.NEEDS, 'fake', [('cmd', 'no-such-cmd-xyz', 'pkg-xyz'),
                                               ('py', 'no_such_module_xyz', 'python3-xyz')])
    with pytest.raises(common.UsageError) as e:
        common.preflight(['fake'])
    assert 'pkg-xyz' in str(e.value) and 'python3-xyz' in str(e.value)
    assert 'apt-get install' in str(e.value)
