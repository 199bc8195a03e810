"""Kernel modes: which kernel an experiment's cluster runs on.

A mode is one module in this package holding one KernelMode subclass marked
@register: how to tell that this process runs in it, what the machine lacks
to use it, its own flags, how a command re-runs itself there, and the label
(`kernel_mode`) every result carries. `native` runs on the host's kernel;
`uml` re-runs the command inside Debian's User-Mode-Linux kernel. A new mode
(a QEMU guest, say) is one new module.
"""
import fcntl
import json
import os
import sys
import time
from pathlib import Path

from topo.registry import Registry

MODES = Registry(__name__, 'kernel mode')
register, load = MODES.register, MODES.load
PLACEMENT_ENV = 'HATESTBED_UML_PLACEMENT'   # where a sandbox's kernel runs on the host
RUN_ENV = 'HATESTBED_RUN'       # the run's id: every host-visible trace of a run carries it
UML_KERNEL_ENV = 'HATESTBED_UML_KERNEL_RECORD'     # the sandbox's kernel, as JSON
LOCK = Path('/run/lock/ha-lvs-testbed.lock')


class SandboxError(RuntimeError):
    """A kernel mode cannot be used; the message says what to install."""


class StopRequested(BaseException):
    """SIGTERM/SIGHUP, or the host's stop request: unwind, tear down, keep results.

    A BaseException, unlike KeyboardInterrupt not swallowed by Mininet's CLI.
    """


class KernelMode:
    name = None             # its --sandbox value and its kernel_mode label
    description = ''
    sandbox = False         # True: a kernel of its own that the command re-runs in
    rank = 0                # `--sandbox auto` tries the modes by rank, lowest first
    package = None          # the Debian package of its kernel (its version goes in summaries)

    @classmethod
    def add_arguments(cls, group):
        """The mode's own flags."""

    @classmethod
    def is_current(cls):
        """Whether this process runs in this mode's kernel."""
        return False

    @classmethod
    def missing(cls):
        """What this machine lacks for the mode, as sentences ([]: usable)."""
        return []

    @classmethod
    def packages(cls):
        """Debian packages the set-up installs so that this mode works where it is needed."""
        return []

    def __init__(self, args):
        self.args = args

    def enter(self, argv, env, host_dirs=()):
        """Re-run argv in this mode's kernel; its exit status. Only for sandboxes."""
        raise NotImplementedError

    def inside(self):
        """Called once when an experiment runs in this mode's kernel."""

    def announce(self, auto):
        """The line a run starts with when it re-runs itself in this mode."""
        return 'kernel mode: %s' % self.name


def current():
    """The mode this process runs in: a sandbox that says so, else native."""
    modes = load()
    for cls in sorted(modes.values(), key=lambda c: c.rank, reverse=True):
        if cls.sandbox and cls.is_current():
            return cls
    return modes['native']


def kernel_mode():
    """The label of every measurement: the mode this process runs in."""
    return current().name


def placement():
    """Where the sandbox's kernel ran on the host (uml: 'cpu N' or 'unpinned'; None
    natively): part of every timing's label, like the mode."""
    return os.environ.get(PLACEMENT_ENV)


def sandbox_kernel():
    """Which sandbox kernel the run is in ({release, package, version, source, syscalls}
    for uml; None natively): with the mode, the label of every timing."""
    record = os.environ.get(UML_KERNEL_ENV)
    try:
        return json.loads(record) if record and current().sandbox else None
    except ValueError:
        return None


def choices():
    return ['auto'] + sorted(load())


def choose(requested, args):
    """The mode an experiment runs in: an instance, or SandboxError saying what is missing.

    Inside a sandbox the experiment runs where it is."""
    modes = load()
    here = current()
    if here.sandbox:
        return here(args)
    if requested != 'auto':
        if requested not in modes:
            raise SandboxError('unknown --sandbox %r (choose from %s)'
                               % (requested, ', '.join(choices())))
        cls = modes[requested]
        problems = cls.missing()
        if problems:
            raise SandboxError('%s mode cannot run here: %s' % (cls.name, '; '.join(problems)))
        return cls(args)
    tried = []
    for cls in sorted(modes.values(), key=lambda c: c.rank):
        problems = cls.missing()
        if not problems:
            return cls(args)
        tried.append('%s: %s' % (cls.name, '; '.join(problems)))
    raise SandboxError('no kernel mode can run here (%s)' % ' / '.join(tried))


def add_arguments(parser):
    g = parser.add_argument_group('kernel')
    g.add_argument('--sandbox', choices=choices(), default='auto',
                   help='; '.join('%s: %s' % (n, c.description) for n, c in sorted(load().items()))
                   + '; auto: native when possible')
    for cls in load().values():
        cls.add_arguments(g)
    return g


def packages():
    """The Debian packages the modes need on this machine (native's lacks pull a sandbox in)."""
    return sorted({p for cls in load().values() for p in cls.packages()})


def run_id():
    """This run's id, made once and inherited by everything it starts (also inside UML)."""
    rid = os.environ.get(RUN_ENV)
    if not rid:
        rid = '%d.%s' % (os.getpid(), os.urandom(3).hex())
        os.environ[RUN_ENV] = rid
    return rid


class Lock:
    """One cluster per kernel: two Mininet networks on one kernel would share the hub
    bridge, OVS and /run. The holder is named to whoever finds the lock taken. Each
    sandbox has its own /run, so its lock never meets the host's."""

    def __init__(self, path=LOCK):
        self.path, self.fd = Path(path), None

    def acquire(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors='replace')
            os.close(fd)
            try:
                h = json.loads(holder)
                who = 'pid %s, `%s`, since %s' % (h['pid'], h['command'], h['since'])
            except (ValueError, KeyError):
                who = 'unknown holder'
            raise SandboxError('another testbed runs a cluster on this kernel (%s): wait for it '
                               'to end, or run this one with --sandbox uml, which has a kernel '
                               'of its own' % who)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({'pid': os.getpid(), 'command': ' '.join(sys.argv),
                                 'since': time.strftime('%Y-%m-%d %H:%M:%S')}).encode())
        self.fd = fd
        return self

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
