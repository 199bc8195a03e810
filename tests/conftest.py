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
                and 'pytest' not in cmd:
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
