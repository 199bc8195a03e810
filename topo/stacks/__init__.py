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


def get(name):
    load()
    if name not in STACKS:
        raise ConfigError('unknown HA stack %r: choose one of %s' % (name, ', '.join(sorted(STACKS))))
    return STACKS[name]


class HAStack:
    name = None
    description = ''
    # True when the backup keeps a full IPVS table while it stands by.
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
        return {}

    def configure(self, director):
        """Render the config files into the director's private dirs; return their paths."""
        raise NotImplementedError

    def start(self, director):
        """Start the stack's daemons on a director that has just booted."""
        raise NotImplementedError

    def logs(self, director):
        """Log files (paths inside the director) worth following and keeping."""
        return []
