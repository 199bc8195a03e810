"""Integration: boot the real cluster in this machine's kernel mode (UML here)."""
import json
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import PYTHON, ROOT, Terminal, leftovers
from topo import sandbox

CLUSTER = str(ROOT / 'experiments' / 'cluster.py')
EXPECTED_MODE = 'uml' if sandbox.native_missing() else 'native'


@pytest.fixture
def tmp_results():
    """A results folder in /tmp, which UML keeps private: the run must still land here."""
    base = Path(tempfile.mkdtemp(prefix='hatestbed-test.', dir='/tmp'))
    yield base / 'results'
    shutil.rmtree(base, ignore_errors=True)


def test_smoke_run_reproduces_figure_6(tmp_results):
    run_dir = tmp_results
    t0 = time.monotonic()
    p = subprocess.run([PYTHON, CLUSTER, '--smoke', '--results', str(run_dir)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=900)
    print(p.stdout)
    print('smoke run end to end: %.1fs (%s)' % (time.monotonic() - t0, EXPECTED_MODE))
    assert p.returncode == 0
    s = json.loads((run_dir / 'smoke.json').read_text())
    assert s['complete'] is True and s['kernel_mode'] == EXPECTED_MODE
    assert s['kernel_release'] and s['elapsed_s'] > 0
    assert s['hub_verified'] is True
    assert s['hub_check']['seen_by_observer'] >= s['hub_check']['sent'] > 0
    [svc] = s['ipvs_table']
    assert svc['address'] == '10.0.14.146:80' and svc['scheduler'] == 'rr'
    rs = {r['address']: r for r in svc['real_servers']}
    assert sorted(rs) == ['10.0.14.12:80', '10.0.14.13:80', '10.0.14.14:80']
    for r in rs.values():
        assert (r['forward'], r['weight'], r['active'], r['inactive']) == ('Route', 1, 0, 5)
    assert s['answers'] == {'laico2': 5, 'laico3': 5, 'laico4': 5}
    listing = (run_dir / 'ipvsadm-laicoz.txt').read_text()
    assert 'laico2:http' in listing and 'Route' in listing      # names as in the paper
    assert leftovers() == []


def test_ctrl_c_tears_down_and_marks_results_incomplete(run_dir):
    proc = subprocess.Popen([PYTHON, CLUSTER, '--smoke', '--results', str(run_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if 'cluster up' in line:
            break
    assert any('cluster up' in line for line in seen), ''.join(seen)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    print(''.join(seen) + rest)
    assert proc.returncode == 130
    s = json.loads((run_dir / 'smoke.json').read_text())
    assert s['complete'] is False and s['interrupted']
    assert 'cluster_start_s' in s           # what it measured is kept
    assert leftovers() == []


def test_cli_runs_commands_on_the_cluster():
    """--cli on a terminal: the Mininet CLI, inside UML too, answers `laicoz ipvsadm -L`."""
    term = Terminal([PYTHON, CLUSTER, '--cli'])
    try:
        term.expect('mininet>')
        term.type('laicoz ipvsadm -L')
        out = term.expect('laico4:http', 60)
        assert 'laico2:http' in out and 'Route' in out
        term.expect('mininet>', 60)
        term.type('exit')
        assert term.proc.wait(timeout=120) == 0
    finally:
        term.close()
    assert leftovers() == []


def test_cli_commands_piped_on_standard_input():
    """A command file on stdin runs in the CLI, inside UML too, and the cluster goes away."""
    commands = 'laicoz ipvsadm -L\nclient ip -4 -o addr show\n'
    p = subprocess.run([PYTHON, CLUSTER, '--cli'], input=commands, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    print(p.stdout)
    assert p.returncode == 0
    assert 'laico2:http' in p.stdout and 'Route' in p.stdout        # laicoz ipvsadm -L
    assert '10.0.14.200/24' in p.stdout                             # the client's address
    assert not any(Path('/var/tmp').glob('hatestbed-cli.*'))        # the saved commands too
    assert leftovers() == []
