"""Interchangeable HA stacks for the two directors.

A stack is one module in this package holding one HAStack subclass marked
with @register: its daemons (topo/daemons/), its flags and their checks,
how it starts on a director, what the backup's IPVS table looks like while
it stands by, and which log lines mark a failover. Experiments look stacks
up by name and never need editing for a new one.
"""
import importlib
import pkgutil

from topo.config import ConfigError

STACKS = {}


def register(cls):
    STACKS[cls.name] = cls
    return cls


def load():
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module('%s.%s' % (__name__, mod.name))
    return STACKS


def add_arguments(parser):
    """Flags every stack shares, then each registered stack's own."""
    g = parser.add_argument_group('HA stacks (all)')
    g.add_argument('--check-interval', type=int, default=1, metavar='S',
                   help='seconds between real-server health checks')
    g.add_argument('--check-timeout', type=int, default=2, metavar='S',
                   help='seconds before a health check fails')
    g.add_argument('--nice-failback', action='store_true',
                   help='the returning primary does not take the service back (the paper '
                        "had nice failback off: the primary takes it back)")
    for cls in load().values():
        cls.add_arguments(parser)


def check_arguments(name, args):
    """ConfigError for impossible settings of stack `name`, before anything starts."""
    if args.check_interval < 1 or args.check_timeout < 1:
        raise ConfigError('--check-interval and --check-timeout are whole seconds, at least 1')
    get(name).check_arguments(args)


def get(name):
    load()
    if name not in STACKS:
        raise ConfigError('unknown HA stack %r: choose one of %s' % (name, ', '.join(sorted(STACKS))))
    return STACKS[name]


class HAStack:
    name = None
    description = ''
    # True when the backup keeps a full IPVS table while it stands by
    # (an instance may decide from its flags).
    backup_table_warm = False
    # Log lines (regular expressions) that mark the steps of a failover:
    # the backup declaring the primary dead, a returning director joining its peer.
    detected_pattern = None
    rejoined_pattern = None
    # What the stack needs installed: (kind 'cmd'|'file'|'py', name, Debian package).
    needs = []

    def __init__(self, config, args):
        self.config = config
        self.args = args

    @classmethod
    def add_arguments(cls, parser):
        """The stack's own flags."""

    @classmethod
    def check_arguments(cls, args):
        """Raise ConfigError for impossible settings, before anything starts."""

    def parameters(self):
        """The stack's settings, for summary.json."""
        return {'check_interval_s': self.args.check_interval,
                'check_timeout_s': self.args.check_timeout,
                'nice_failback': self.args.nice_failback,
                'backup_table_warm': self.backup_table_warm}

    def detection_setting(self):
        """(name, seconds) of the setting that bounds failure detection, for sweeps."""
        raise NotImplementedError

    def configure(self, director):
        """Render the config files into the director's private dirs; return their paths."""
        raise NotImplementedError

    def start(self, director):
        """Start the stack's daemons on a director that has just booted."""
        raise NotImplementedError

    def logs(self, director):
        """Log files (paths inside the director) worth following and keeping."""
        return []
