import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / 'tests' / 'data'
PYTHON = '/usr/bin/python3'

from topo import ha  # noqa: E402


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


def leftovers():
    """What a run may have leaked onto the host: processes, links, work dirs."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            cmd = open('/proc/%s/cmdline' % pid, 'rb').read().replace(b'\0', b' ').decode()
        except OSError:
            continue
        if any(w in cmd for w in ['linux.uml', 'mininet:', 'osken-manager', 'topo.agents.']
               + ha.all_processes()) \
                and 'pytest' not in cmd or cmd.startswith('nginx: ') and 'hatestbed' in cmd:
            found.append('process %s: %s' % (pid, cmd[:80]))
    links = subprocess.run(['ip', '-o', 'link', 'show', 'type', 'veth'],
                           stdout=subprocess.PIPE, universal_newlines=True).stdout
    found += ['veth ' + line.split(':')[1].strip() for line in links.splitlines()]
    found += ['dir ' + d for d in os.listdir('/var/tmp') if d.startswith('hatestbed-uml.')]
    found += ['dir /run/' + d for d in os.listdir('/run') if d.startswith('hatestbed.')]
    return found


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: long runs (the fault matrix); run them with '
                            'HATESTBED_SLOW=1 ./testbed test')


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
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True)
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
