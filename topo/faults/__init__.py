"""Faults the testbed injects into a running cluster, one class each.

A fault is one module in this package holding a Fault subclass marked with
@register. It is made for one network (topo/backends) and one target node and
owns its mechanism: _inject() and _clear() use only the node backend's
primitives (links, processes and signals, packet loss, the hub's cut and heal)
and return the time they took effect (what every timeline counts from). Each
inject and clear is recorded as a `fault` event (topo/agents/events.py), links
set up or down as `link` events. Scenarios, faults.py's flags and matrix, and
the live lab's commands find faults by `name`, so a new fault needs no edit
anywhere else.
"""
from topo.registry import Registry

FAULTS = Registry(__name__, 'fault')
register, load, get = FAULTS.register, FAULTS.load, FAULTS.get


def repair_fenced(network):
    """Every director the stack's fencing switched off, powered on again (the admin's
    repair); their names."""
    fenced = sorted(network.fenced_off)
    for name in fenced:
        network.fenced_off.discard(name)
        network.power_on(name, lambda up, lan_only=False, node=name: _links(
            network, node, network[node].set_links(up, lan_only), up))
    return fenced


def _links(network, node, t, up):
    if network.recorder:
        network.recorder.note(node, 'link', t=t, up=up)
    return t


class Fault:
    name = None
    description = ''
    # what inject() and clear() are called in marks and stage labels, e.g. laicoz_off
    inject_word, clear_word = 'fault', 'cleared'
    # the live lab's commands for inject and clear, e.g. ('poweroff', 'poweron')
    commands = (None, None)
    # which nodes it applies to: 'any', 'director', 'real server', 'directors' (the pair)
    targets = 'any'
    default_target = 'laicoz'
    # on real machines (topo/backends/machines/inventory.py), the inventory command it cannot do without
    # (e.g. 'power_off': nothing else switches a machine off), or None
    machine_command = None
    machines_problem = None     # why it cannot run on real machines (refused before start)
    clear_boots = False     # its clear starts the target's services (a power-on, a restart)
    # on the primary, the director stops serving and its peer takes over (a failover the
    # runs measure as the paper's power-off: topo/analysis/timeline.py)
    director_lost = False
    params = {}             # its parameters and their defaults, e.g. {'percent': 30.0}
    param_help = {}         # what each one means (faults.py makes a flag of each)

    def __init__(self, network, target, **params):
        self.network, self.target = network, target
        unknown = set(params) - set(self.params)
        if unknown:
            raise ValueError('%s takes no %s' % (self.name, ', '.join(sorted(unknown))))
        self.options = dict(self.params, **params)
        self.check_params(self.options)
        self.injected_at = self.cleared_at = None

    @property
    def node(self):
        return self.network[self.target]

    @classmethod
    def check_params(cls, params):
        """ValueError for impossible parameters (before anything starts)."""

    @classmethod
    def check_stack(cls, params, stack):
        """ValueError when the parameters do not fit the stack (before anything starts)."""

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
        self.record('inject', self.injected_at)
        return self.injected_at

    def clear(self):
        """Undo the fault; the time it was undone. A node the stack fenced meanwhile
        (Pacemaker's STONITH with action off) stays off until repaired: the clear is then
        the admin's repair, a power-on (after the fault's own undo; instead of it where
        that undo is a boot), so the run goes on with the whole cluster."""
        fenced = self.network.fenced_off
        if self.target in fenced and self.clear_boots:
            fenced.discard(self.target)
            self.cleared_at = self.network.power_on(self.target, self.links)
        else:
            self.cleared_at = self._clear()     # (a cut healed before the repair)
        self.record('clear', self.cleared_at)
        repair_fenced(self.network)
        return self.cleared_at

    def note(self, kind, t, **fields):
        """An event of this fault in the run's one stream (topo/agents/events.py)."""
        if self.network.recorder:
            self.network.recorder.note(self.target, kind, t=t, **fields)
        return t

    def record(self, action, t):
        self.note('fault', t, fault=self.name, action=action, params=self.options)

    def links(self, up, lan_only=False):
        """The target's links (or only its cable to the hub) up or down; the time."""
        return self.note('link', self.node.set_links(up, lan_only), up=up)

    def _inject(self):
        raise NotImplementedError

    def _clear(self):
        raise NotImplementedError

    def label(self, word):
        return '%s %s' % (self.target, word)

    def mark(self, word):
        return '%s_%s' % (self.target, word)
