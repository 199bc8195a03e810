"""Interchangeable HA stacks for the two directors.

A stack is one module in topo/ha/stacks/ holding one HAStack subclass marked
with @register: its settings (a dataclass, whose fields become its command-line
flags), its daemons (topo/ha/daemons/, one class each, with their templates in
topo/ha/templates/), how it starts on a director, what the backup's IPVS table
looks like while it stands by, and which log lines mark a failover. Experiments
look stacks up by name and never need editing for a new one.

Everything a stack knows stays here: the directories its daemons need of
their own on a director, their processes (a crash kills those), their logs,
the setting a sweep varies and the configurations ("layouts") it offers.
"""
import argparse
import dataclasses
from dataclasses import dataclass, field

from topo.network import ipvs
from topo.network.config import ConfigError
from topo.registry import Registry

STACKS = Registry('topo.ha.stacks', 'HA stack', ConfigError)
register, load, get = STACKS.register, STACKS.load, STACKS.get


def setting(default, help, **argparse_kw):
    """A settings field; its metadata is what argparse needs to make a flag of it."""
    return field(default=default, metadata=dict(help=help, **argparse_kw))


def flag_of(name):
    return '--' + name.replace('_', '-')


def given_flags(args):
    """The stack flags given on a command line (add_arguments leaves the others unset),
    as they are written: for experiments that run every layout with its own settings."""
    return [flag_of(n) for n in sorted({f.name for c in load().values()
                                        for f in dataclasses.fields(c.Settings)
                                        if hasattr(args, f.name)})]


@dataclass
class Settings:
    """Settings every stack shares; a stack's own Settings subclass adds its fields."""
    check_interval: int = setting(1, 'seconds between real-server health checks',
                                  type=int, metavar='S')
    check_timeout: int = setting(2, 'seconds before a health check fails', type=int, metavar='S')
    nice_failback: bool = setting(False, 'the returning primary does not take the service back '
                                  '(the paper had nice failback off: the primary takes it back)',
                                  action='store_true')
    sync_daemon: bool = setting(False, 'IPVS connection synchronisation: the directors send '
                                'each other their connection entries (multicast), so the '
                                "backup's kernel knows established connections at a takeover",
                                action='store_true')

    def check(self):
        """Raise ConfigError for impossible settings, before anything starts."""
        if self.check_interval < 1 or self.check_timeout < 1:
            raise ConfigError('--check-interval and --check-timeout are whole seconds, at least 1')

    def replace(self, **changes):
        """A checked copy with some settings changed (what a sweep point is)."""
        new = dataclasses.replace(self, **changes)
        new.check()
        return new

    def as_dict(self):
        return dataclasses.asdict(self)


SHARED = {f.name for f in dataclasses.fields(Settings)}


@dataclass
class BootStep:
    """One shell command of a director's boot, the same on every backend."""
    command: str
    # what its output says went wrong, or None (by default: any output is a failure)
    failed: object = None


@dataclass
class SweepAxis:
    """The setting that bounds failure detection, as a sweep varies it."""
    setting: str            # Settings field, e.g. 'deadtime'
    flag: str               # the sweep's flag for its values, e.g. '--deadtimes'
    default: str            # its default values, e.g. '1,2,4'
    label: str              # axis label, e.g. 'heartbeat deadtime (s)'
    derive: object = None   # value -> {field: value} of the settings that go with it
    seconds: float = 1.0    # seconds per unit of the flag's values (ms: 0.001), so that
    #                         every stack's points share one axis in seconds

    def settings_for(self, value):
        return self.derive(value) if self.derive else {self.setting: value}


class HAStack:
    name = None
    description = ''
    Settings = Settings
    # Named configurations of this stack ({layout: (settings changes, description)}),
    # e.g. heartbeat as in the paper and heartbeat hot standby.
    layouts = {}
    # False for a stack with no second director to take over (availability's baseline):
    # the failover experiments leave it out
    redundant = True
    sweep_axis = None
    # Log lines (regular expressions) that mark the steps of a failover: the
    # backup declaring the primary dead, a returning director joining its peer,
    # a real server leaving the table ({address} is its ip:port).
    detected_pattern = None
    rejoined_pattern = None
    removed_pattern = None
    # How long both directors may hold the VIP in a clean hand-over (the old owner
    # letting go as the new one takes it), as the monitors see it (they poll every 50 ms).
    handover_overlap_s = 0.25
    # Longest a healthy primary takes to hold the VIP after its daemons start
    # (UML's slow process start included), and why.
    acquire_deadline_s = 30.0
    # Boot the backup only once the primary holds the VIP (a stack whose start-up
    # election the backup can win for a moment otherwise: a start-up false takeover).
    backup_waits_for_primary = False
    acquire_deadline_why = 'start-up plus a margin for slow process start'
    daemon_classes = ()
    # the daemon whose own graceful stop hands the service over (a planned hand-over,
    # topo/faults/stop.py); None: the first of daemon_classes
    handover_daemon = None
    # why the stack cannot run on real machines (deploy.py, --target), or None
    machines_problem = None
    # it switches directors off itself (fencing): on real machines it needs the
    # inventory's power commands for both directors
    powers_directors = False
    # rendered for real machines (deploy.py, --target): their paths, not the emulation's
    on_machines = False
    # it can run the directors active/active (it moves each director's next-hop
    # address to the peer when it fails; config.active_active)
    active_active = False

    # the first N real servers are in the virtual service (None: all of them); the
    # others are up, outside it, until the service grows (experiments/growth.py)
    in_service = None

    def __init__(self, config, settings=None):
        if config.active_active and not self.active_active:
            able = sorted(n for n, c in STACKS.load().items() if c.active_active)
            raise ConfigError('--active-active: the %s stack cannot move a next-hop address '
                              'per director; use %s' % (self.name, ' or '.join(
                                  '--stack ' + n for n in able)))
        self.config = config
        self.settings = settings if settings is not None else self.Settings()

    @property
    def service(self):
        """The cluster as the service sees it: the real servers in it, their weights."""
        n = self.in_service
        if n is None or n == self.config.servers:
            return self.config
        import dataclasses
        return dataclasses.replace(self.config, servers=n, weights=self.config.weights[:n])

    # -- what the stack is ---------------------------------------------------
    @property
    def backup_table_warm(self):
        """True when the backup keeps a full IPVS table while it stands by."""
        return False

    def parameters(self):
        """The stack's settings, for summary.json."""
        p = dict(self.settings.as_dict(), backup_table_warm=self.backup_table_warm)
        if self.in_service is not None:
            p['in_service'] = self.in_service       # at the start (experiments/growth)
        return p

    @classmethod
    def private_dirs(cls):
        """Directories each director needs of its own for this stack's daemons."""
        dirs = []
        for d in cls.daemon_classes:
            dirs += [p for p in d.private_dirs if p not in dirs]
        return dirs

    @classmethod
    def needs(cls):
        """What the stack's daemons need installed: (kind 'cmd'|'file'|'py', name, package)."""
        return [n for d in cls.daemon_classes for n in d.needs]

    @property
    def layout(self):
        """The name of the stack's configuration among its layouts (the most specific
        whose settings it has), as the sweep, the fault matrix and the load lab call it."""
        fits = [(len(changes), name) for name, (changes, _) in self.layouts.items()
                if all(getattr(self.settings, k) == v for k, v in changes.items())]
        return max(fits)[1] if fits else self.name

    @classmethod
    def processes(cls):
        """Names of the stack's daemon processes (what a crash kills)."""
        return [p for d in cls.daemon_classes for p in d.processes]

    def daemons(self, director):
        """The daemon objects of this stack on a director."""
        raise NotImplementedError

    # -- the run around it ------------------------------------------------------------
    def attach(self, network):
        """What the stack needs of the testbed while the cluster runs (e.g. a power
        switch for its fence devices), before its configs are rendered."""

    def detach(self):
        """Undo attach (the run is over, or was interrupted)."""

    # -- lifecycle on a director --------------------------------------------------
    def configure(self, director):
        """Render the config files into the director's private dirs; return their paths."""
        return [p for d in self.daemons(director) for p in d.render()]

    def reload(self, director):
        """The configs rendered again (for the real servers now in service) and every
        daemon told to read them, none restarted; what each said."""
        daemons = self.daemons(director)
        for d in daemons:
            d.render_configs()
        return {d.name: d.reload() for d in daemons}

    def self_check(self, director):
        """Each daemon's own verdict on its rendered config: [(daemon, problem)]."""
        return [(d.name, problem) for d in self.daemons(director)
                for problem in [d.self_check()] if problem]

    def boot(self, director):
        """What a director's boot starts of the stack, in order: [BootStep]. The emulation
        runs each in the node (start()); a deployment's node script runs the same
        commands on the machine (deploy/templates/node.sh.j2)."""
        raise NotImplementedError

    def boot_steps(self, director):
        """All a director's boot runs: the cluster's IPVS switches (sloppy TCP) and,
        active/active, the VIP on lo, then the stack's boot."""
        setup = self.config.director_setup(director.interfaces()[0])
        return ([BootStep('{ %s; } 2>&1' % setup)] if setup else []) + self.boot(director)

    def start(self, director):
        """Start the stack's daemons on a director that has just booted."""
        self.run_steps(director, self.boot_steps(director))

    @staticmethod
    def run_steps(director, steps):
        """Run boot steps in the director, in order; RuntimeError at the first that fails."""
        for step in steps:
            out = director.cmd(step.command)
            problem = step.failed(out) if step.failed else (out.strip() or None)
            if problem:
                raise RuntimeError('%s: %s: %s' % (director.name, step.command[:80], problem))

    def stop_steps(self, director):
        """A planned hand-over: the daemon that holds the service told to stop, its own
        graceful way (it lets the VIP go; the peer takes it)."""
        cls = self.handover_daemon or self.daemon_classes[0]
        daemon = next(d for d in self.daemons(director) if isinstance(d, cls))
        return [BootStep(daemon.stop_command())]

    SYNC_ID = ipvs.SYNC_ID

    def sync_daemons(self, director):
        """IPVS sync by hand (a stack whose daemons cannot run it): both daemons on both
        directors (topo/network/ipvs.py)."""
        return [BootStep(c) for c in ipvs.sync_daemon_commands(director.interfaces()[0])]

    @staticmethod
    def daemon_steps(*daemons):
        """Each daemon's boot preparation, then its start, as boot steps."""
        return [BootStep('{ %s; } 2>&1' % d.boot_command()) for d in daemons
                if d.boot_command()] + \
            [BootStep(d.start_command(), d.start_failed) for d in daemons]

    def logs(self, director):
        """Log files (paths inside the director) worth following and keeping."""
        return [log for d in self.daemons(director) for log in d.logs]


def layouts(redundant=True):
    """{layout: (stack class, settings changes, description)} over the registered stacks
    (only those with a backup director unless redundant=False): the HA configurations
    a sweep or a fault matrix runs."""
    return {name: (cls, changes, text) for cls in load().values()
            if cls.redundant or not redundant
            for name, (changes, text) in cls.layouts.items()}


def stack_names(redundant=True):
    """The registered stacks' names (only those with a backup director unless
    redundant=False), for --stack."""
    return sorted(name for name, cls in load().items() if cls.redundant or not redundant)


def layout_stack(layout, config, args=None):
    """The stack of a named layout, with that layout's settings (over the stack flags
    given in args, when every layout of the run is of that stack: layout_flags_problem)."""
    cls, changes, _ = layouts(redundant=False)[layout]
    settings = settings_from_args(cls.name, args) if args is not None else cls.Settings()
    settings = settings.replace(**changes)
    settings.check()
    return cls(config, settings)


def layout_flags_problem(chosen, args):
    """Why the stack flags given in args cannot apply to every one of the chosen
    layouts (None: they can, or none was given): they must all be settings of the one
    stack every layout is of, and none a setting that tells the layouts apart."""
    known = layouts(redundant=False)
    given = {f.name for c in load().values() for f in dataclasses.fields(c.Settings)
             if hasattr(args, f.name)}
    if not given:
        return None
    stacks = {known[n][0] for n in chosen}
    if len(stacks) > 1:
        return 'the layouts are of %d stacks' % len(stacks)
    [cls] = stacks
    own = {f.name for f in dataclasses.fields(cls.Settings)}
    defining = {k for n in chosen for k in known[n][1]}
    bad = sorted(given - own) + sorted(given & defining)
    if bad:
        return '%s: not a setting every %s layout takes' % (
            ', '.join(flag_of(k) for k in bad), cls.name)
    return None


def all_processes():
    """Process names of every registered stack's daemons."""
    return sorted({p for cls in load().values() for p in cls.processes()})


def all_daemon_classes():
    """Every registered stack's daemon classes, each once (in a stable order)."""
    seen = []
    for cls in load().values():
        seen += [d for d in cls.daemon_classes if d not in seen]
    return seen


# -- command-line flags ----------------------------------------------------------
def add_arguments(parser):
    """Flags every stack shares, then each registered stack's own.

    Stack flags default to "not given" so that a flag of another stack than
    the chosen one can be refused rather than silently ignored.
    """
    seen = set()
    groups = [('HA stacks (all)', Settings, SHARED)]
    groups += [(cls.name, cls.Settings, None) for cls in load().values()]
    for title, settings_cls, only in groups:
        g = parser.add_argument_group(title)
        for f in dataclasses.fields(settings_cls):
            if f.name in seen or (only is not None and f.name not in only) or \
                    (only is None and f.name in SHARED):
                continue
            seen.add(f.name)
            kw = dict(f.metadata)
            help_text = kw.pop('help')
            if kw.get('action') != 'store_true' and f.default is not None:
                help_text += ' (default: %s)' % f.default
            parser_kw = dict(kw, help=help_text, default=argparse.SUPPRESS, dest=f.name)
            g.add_argument(flag_of(f.name), **parser_kw)


def settings_from_args(name, args):
    """The checked Settings of stack `name` from parsed flags; ConfigError for a flag
    that belongs to another stack, or for impossible settings."""
    cls = get(name)
    own = {f.name for f in dataclasses.fields(cls.Settings)}
    given = {f.name: getattr(args, f.name)
             for other in load().values() for f in dataclasses.fields(other.Settings)
             if hasattr(args, f.name)}
    foreign = sorted(k for k in given if k not in own)
    if foreign:
        owners = {k: sorted(c.name for c in STACKS.values()
                            if k in {f.name for f in dataclasses.fields(c.Settings)})
                  for k in foreign}
        raise ConfigError('%s: not a setting of the %s stack (%s); leave %s out or choose '
                          'that stack' % (', '.join(flag_of(k) for k in foreign), name,
                                          '; '.join('%s belongs to %s' % (flag_of(k), '/'.join(v))
                                                    for k, v in owners.items()),
                                          'it' if len(foreign) == 1 else 'them'))
    settings = cls.Settings(**{k: v for k, v in given.items() if k in own})
    settings.check()
    return settings


# -- configs checked by the daemons themselves, before anything starts ------------
class ScratchDirector:
    """Stands in for a director when its configs are rendered only to be checked."""

    def __init__(self, name, root, private_dirs=(), links=1, inside=False):
        from pathlib import Path
        self.name, self.root, self.links, self.inside = name, Path(root), links, inside
        for d in private_dirs:
            Path(self.private(d)).mkdir(parents=True, exist_ok=True)

    def interfaces(self):
        from topo.network.config import inside_interface
        return ['%s-eth%d' % (self.name, i) for i in range(self.links)] + (   # Mininet's names
            [inside_interface(self.name)] if self.inside else [])

    def private(self, path):
        return str(self.root / self.name / path.lstrip('/'))

    def publish(self, path):
        pass                # (checked where it was written)


def check_configs(stack):
    """Render the stack's configs for both directors into a scratch folder and let
    each daemon judge its own (heartbeat, ldirectord, keepalived -t); ConfigError
    with what they said when one refuses."""
    import shutil
    import tempfile
    from pathlib import Path
    from topo.network.config import DIRECTORS
    from topo.kernels import run_id
    root = Path(tempfile.mkdtemp(prefix='hatestbed-check.%s.' % run_id(), dir='/var/tmp'))
    try:
        problems = []
        for name in DIRECTORS:
            director = ScratchDirector(name, root, stack.private_dirs(),
                                       links=2 if stack.config.crossover else 1,
                                       inside=stack.config.nat)
            stack.configure(director)
            problems += ['%s %s: %s' % (name, daemon, p) for daemon, p in stack.self_check(director)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if problems:
        raise ConfigError('the generated configuration is refused by its own daemons:\n  '
                          + '\n  '.join(problems))
