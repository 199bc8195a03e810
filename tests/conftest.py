import os
import secrets
import subprocess
from pathlib import Path

import pytest

from topo import ha
from topo.kernels import RUN_ENV
from topo.kernels.native import native_missing

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / 'tests' / 'data'
PYTHON = '/usr/bin/python3'
EXPECTED_MODE = 'uml' if native_missing() else 'native'


@pytest.fixture
def selfheal_in_tmp(tmp_path, monkeypatch):
    """A self-healing fault's pid files in the test's own folder, not the host's /run."""
    from topo.backends.machines import selfheal
    monkeypatch.setattr(selfheal, 'STATE', str(tmp_path / 'heal'))


@pytest.fixture
def data():
    return lambda name: (DATA / name).read_text()


@pytest.fixture
def run_dir():
    """A results folder the UML kernel writes through to (its /tmp is private)."""
    import shutil
    import tempfile
    base = ROOT / 'results' / 'test-runs'
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=base))
    yield path
    if not os.environ.get('KEEP_TEST_RESULTS'):
        shutil.rmtree(path, ignore_errors=True)


def new_run_id():
    """A run id as the testbed makes them ("<pid>.<hex>"), known to the test."""
    return '%d.%s' % (os.getpid(), secrets.token_hex(3))


def run_env(run_id):
    return dict(os.environ, **{RUN_ENV: run_id})


def experiment(script, *args, timeout=1200, extra_env=None, **kwargs):
    """experiments/<script>.py as a user runs it; the completed process, with the
    run's id as .run_id (for its own leak check) and its output printed."""
    rid = new_run_id()
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / (script + '.py'))] + list(args),
                       env=dict(run_env(rid), **(extra_env or {})), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=timeout, **kwargs)
    print(p.stdout)
    p.run_id = rid
    return p


def stack_from_flags(name, *argv):
    """The HA stack an experiment builds from these flags (cluster flags included)."""
    import argparse
    from topo.engine import cli
    p = argparse.ArgumentParser()
    cli.add_cluster_args(p, active_active=True)
    ha.add_arguments(p)
    args = p.parse_args(list(argv))
    return ha.get(name)(cli.cluster_config(args), ha.settings_from_args(name, args))


def refused(script, *argv):
    """What the script says when it refuses these flags (exit status 2, nothing started)."""
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / (script + '.py')), '--plan']
                       + list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=60)
    assert p.returncode == 2 and 'kernel mode' not in p.stdout, p.stdout
    return p.stdout


def leftovers(run_id):
    """What one run leaked onto the host: the processes that carry its id, its work
    folders; natively also any Mininet or HA process and veth link (only one cluster
    runs on a kernel at a time there). Another testbed running at the same time in
    its own UML is not this run's leak."""
    found = []
    marker = ('%s=%s' % (RUN_ENV, run_id)).encode()
    names = ['linux.uml', 'mininet:', 'osken-manager', 'topo.agents.'] + ha.all_processes()
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            environ = open('/proc/%s/environ' % pid, 'rb').read()
            cmd = open('/proc/%s/cmdline' % pid, 'rb').read().replace(b'\0', b' ').decode()
        except OSError:
            continue
        if 'pytest' in cmd:
            continue
        ours = marker in environ.split(b'\0')
        named = any(w in cmd for w in names) or cmd.startswith('nginx: ') and 'hatestbed' in cmd
        if ours or (EXPECTED_MODE == 'native' and named):
            found.append('process %s: %s' % (pid, cmd[:80]))
    if EXPECTED_MODE == 'native':
        links = subprocess.run(['ip', '-o', 'link', 'show', 'type', 'veth'],
                               stdout=subprocess.PIPE, universal_newlines=True).stdout
        found += ['veth ' + line.split(':')[1].strip() for line in links.splitlines()]
    found += ['dir /var/tmp/' + d for d in os.listdir('/var/tmp')
              if d.startswith(('hatestbed-uml.%s' % run_id, 'hatestbed-check.%s' % run_id))]
    found += ['dir /run/' + d for d in os.listdir('/run') if d == 'hatestbed.%s' % run_id]
    return found


def pytest_collection_modifyitems(config, items):
    if os.environ.get('HATESTBED_SLOW'):
        return
    skip = pytest.mark.skip(reason='slow (tens of minutes): HATESTBED_SLOW=1 runs it')
    for item in items:
        if 'slow' in item.keywords:
            item.add_marker(skip)


class Terminal:
    """A command on a pseudo-terminal, as a person at a keyboard runs it."""

    def __init__(self, argv):
        import pty
        self.run_id = new_run_id()
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, env=run_env(self.run_id))
        os.close(slave)
        self.buf = b''

    def expect(self, text, timeout=300):
        """Read until text appears; what came up to it."""
        import select
        import time
        end = time.monotonic() + timeout
        while text.encode() not in self.buf:
            if time.monotonic() > end:
                raise AssertionError('no %r in output:\n%s'
                                     % (text, self.buf.decode(errors='replace')[-3000:]))
            r, _, _ = select.select([self.master], [], [], 0.5)
            if r:
                try:
                    self.buf += os.read(self.master, 4096)
                except OSError:
                    raise AssertionError('output ended before %r:\n%s'
                                         % (text, self.buf.decode(errors='replace')[-3000:]))
        idx = self.buf.index(text.encode()) + len(text)
        before, self.buf = self.buf[:idx], self.buf[idx:]
        return before.decode(errors='replace')

    def type(self, line):
        os.write(self.master, line.encode() + b'\n')

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=90)
        os.close(self.master)
