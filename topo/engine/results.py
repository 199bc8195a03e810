"""A run's results folder and its summary.json, with one header for every experiment.

Results are never overwritten: each run writes to a new folder (or to an empty
one it was given), results/latest points at the newest. summary.json is
rewritten after every stage and says "complete": false until the run finished,
so an interrupted or killed run keeps what it measured and says it is incomplete.
"""
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from topo import kernels

ROOT = Path(__file__).resolve().parents[2]
# A checkout keeps its runs in its own results/; an installed copy in ./results.
RESULTS = ROOT / 'results' if (ROOT / 'setup.py').exists() else Path.cwd() / 'results'


class UsageError(Exception):
    """Bad input or an unusable machine: reported before anything is started."""


def new_results_dir(experiment, requested=None):
    """A results folder that no earlier run wrote to; results/latest points at it."""
    if requested:
        path = Path(requested).resolve()
        if path.exists() and any(path.iterdir()):
            raise UsageError('results folder %s is not empty: results are never overwritten; '
                             'choose a new folder' % path)
        path.mkdir(parents=True, exist_ok=True)
        return path
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    for n in range(100):
        path = RESULTS / ('%s-%s%s' % (stamp, experiment, '-%d' % n if n else ''))
        try:
            path.mkdir()
            break
        except FileExistsError:
            continue
    latest = RESULTS / 'latest'
    tmp = RESULTS / ('.latest.%d' % os.getpid())
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(path.name)
    os.replace(tmp, latest)
    return path


_VERSIONS = {}


def versions(packages):
    """{package: version} of the Debian packages a run used (one dpkg-query)."""
    missing = [p for p in packages if p not in _VERSIONS]
    if missing:
        p = subprocess.run(['dpkg-query', '-W', '-f', '${Package}\t${Version}\n'] + missing,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           universal_newlines=True)
        for line in p.stdout.splitlines():
            name, _, version = line.partition('\t')
            _VERSIONS[name] = version or None
        for name in missing:
            _VERSIONS.setdefault(name, None)
    return {p: _VERSIONS[p] for p in packages}


def run_versions(packages):
    """versions(), with the UML kernel's package as the run booted it (a fetched kernel
    is no installed package)."""
    found = versions(packages)
    uml = kernels.sandbox_kernel()
    if uml and uml['package'] in found:
        found[uml['package']] = uml['version']
    return found


def header(plan, experiment=None, stack=None):
    """What every summary.json starts with: the experiment, its HA stack and layout,
    the kernel it ran on, its parameters and the versions of the daemons."""
    from topo import packages
    stack = stack if stack is not None else plan.stack
    from topo.backends import EMULATION
    here = plan.backend == EMULATION    # (the emulation: this machine's kernel mode)
    return {'experiment': experiment or plan.experiment,
            'stack': stack.name if stack else None,
            'layout': stack.layout if stack else None,
            'kernel_mode': kernels.kernel_mode() if here else plan.backend,
            'kernel_release': os.uname().release if here else None,
            'kernel_placement': kernels.placement(),
            'uml_kernel': kernels.sandbox_kernel() if here else None,
            'parameters': plan.parameters(stack),
            'versions': run_versions(packages.run_packages(stack)),
            'command': ' '.join(sys.argv),
            'started': time.strftime('%Y-%m-%d %H:%M:%S')}


class Summary:
    """summary.json: the header, then what the run measured, rewritten as it goes."""

    unfinished = []     # summaries that an interrupt marks incomplete

    def __init__(self, path, head):
        Summary.unfinished.append(self)
        self.path = Path(path)
        self.data = dict(head, complete=False)
        self.started = time.monotonic()
        self.write()

    def update(self, **fields):
        self.data.update(fields)
        self.write()

    def write(self):
        self.data['elapsed_s'] = round(time.monotonic() - self.started, 2)
        tmp = self.path.with_suffix('.tmp')
        tmp.write_text(json.dumps(self.data, indent=2, default=_jsonable) + '\n')
        os.replace(tmp, self.path)

    def finish(self, **fields):
        self.data.update(fields, complete=True)
        self.write()
        if self in Summary.unfinished:
            Summary.unfinished.remove(self)

    def interrupted(self, reason):
        self.data.update(complete=False, interrupted=reason)
        self.write()


def _jsonable(value):
    import dataclasses
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return str(value)
