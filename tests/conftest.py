import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / 'tests' / 'data'
PYTHON = '/usr/bin/python3'


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
