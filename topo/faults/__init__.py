"""Faults the testbed injects into a running cluster, one class each.

A fault is one module in this package holding a Fault subclass marked with
@register. It is made for one cluster and one target node; inject() applies
it and returns the time of the fault (what every timeline counts from),
clear() undoes it and returns that time. Scenarios name faults by their
`name`, so a new fault needs no edit anywhere else.
"""
import importlib
import pkgutil

FAULTS = {}


def register(cls):
    FAULTS[cls.name] = cls
    return cls


def load():
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module('%s.%s' % (__name__, mod.name))
    return FAULTS


def get(name):
    load()
    if name not in FAULTS:
        raise KeyError('unknown fault %r: choose one of %s' % (name, ', '.join(sorted(FAULTS))))
    return FAULTS[name]


class Fault:
    name = None
    description = ''
    # what inject() and clear() are called in marks and stage labels, e.g. laicoz_off
    inject_word, clear_word = 'fault', 'cleared'
    # which nodes it applies to: 'any', 'director', 'real server', 'directors' (the pair)
    targets = 'any'
    default_target = 'laicoz'
    params = {}             # its parameters and their defaults, e.g. {'percent': 30}

    def __init__(self, cluster, target, **params):
        self.cluster, self.target = cluster, target
        unknown = set(params) - set(self.params)
        if unknown:
            raise ValueError('%s takes no %s' % (self.name, ', '.join(sorted(unknown))))
        self.options = dict(self.params, **params)
        self.injected_at = self.cleared_at = None

    @classmethod
    def check_target(cls, target, config):
        """ValueError when the fault cannot apply to that node (before anything starts)."""
        from topo.network.config import CLIENT, DIRECTORS
        allowed = {'any': config.hosts, 'director': list(DIRECTORS),
                   'directors': list(DIRECTORS),
                   'real server': config.real_servers}[cls.targets]
        if target not in allowed:
            raise ValueError('fault %s applies to %s: %s, not %r'
                             % (cls.name, cls.targets, ', '.join(allowed), target))
        if target == CLIENT:
            raise ValueError('the client is the instrument, not a target')

    def inject(self):
        """Apply the fault; the time it took effect."""
        self.injected_at = self._inject()
        return self.injected_at

    def clear(self):
        """Undo the fault; the time it was undone."""
        self.cleared_at = self._clear()
        return self.cleared_at

    def _inject(self):
        raise NotImplementedError

    def _clear(self):
        raise NotImplementedError

    def label(self, word):
        return '%s %s' % (self.target, word)

    def mark(self, word):
        return '%s_%s' % (self.target, word)
