"""The live lab: commands that inject and clear the testbed's faults by hand on a
running HA cluster, so a teacher can replay the paper live. They are added to the
node backend's shell (Mininet's CLI: `laicoz ipvsadm -L` works as ever), and come
from the fault registry (topo/faults/): every registered fault is here.

  inject FAULT NODE [PARAM=VALUE ...]   inject any registered fault
  clear NODE [FAULT]                    undo the fault last injected into NODE
  faults                                the registered faults and what is in place
  owners                                who holds the VIP (and whose links are up)
  figure                                `ipvsadm -L` of both directors, as in the paper

and each fault's short forms (its `commands`): poweroff NODE / poweron NODE, unplug /
plug, crash / restart, kill NODE [DAEMON] / revive NODE, partition / heal, loss NODE
[PERCENT] / lossless NODE, hang / resume, flap NODE [COUNT [PERIOD]] / steady NODE. A first parameter of 0 clears the
fault (`loss laicoz 0`).
"""
from topo import faults
from topo.network.config import BACKUP, DIRECTORS, PRIMARY


class LabCommands:
    """Mixed into the backend's shell class; takes the network first."""

    def __init__(self, network, *args, **kwargs):
        self.network = network
        self.active = {}        # (fault, target) -> the fault object, until cleared
        super().__init__(*args, **kwargs)

    def say(self, text):
        self.stdout.write(text + '\n')

    # -- inject and clear, by name ---------------------------------------------------------
    def inject(self, name, target, **params):
        cls = faults.get(name)
        if (name, target) in self.active:
            if not params:
                return self.say('%s on %s is in place already' % (name, target))
            self.clear(name, target)            # new parameters: the fault again, changed
        try:
            cls.check_target(target, self.network.config)
            f = cls(self.network, target, **params)
            cls.check_stack(f.options, self.network.stack)
            f.inject()
        except (ValueError, RuntimeError) as e:
            return self.say(str(e))
        self.active[(name, target)] = f
        self.say('%s: %s' % (f.label(f.inject_word), f.description))

    def clear(self, name, target):
        f = self.active.pop((name, target), None)
        if f is None:
            return self.say('no %s on %s to clear' % (name, target))
        f.clear()
        self.say(f.label(f.clear_word))

    def clear_all(self):
        """Undo what is still in place (before the teardown)."""
        for (name, target) in list(self.active):
            try:
                self.clear(name, target)
            except Exception:       # the teardown follows anyway
                pass

    def parse(self, cls, words):
        """NODE (unless the fault hits the pair) then its parameters, in order or as k=v."""
        hosts = self.network.config.hosts
        target = cls.default_target
        if cls.targets == 'directors':          # the pair: naming one of them is optional
            if words and words[0] in DIRECTORS:
                words = words[1:]
        elif not words or words[0] not in hosts:
            raise ValueError('give a node, one of: %s' % ', '.join(hosts))
        else:
            target, words = words[0], words[1:]
        params, names = {}, list(cls.params)
        for i, word in enumerate(words):
            key, eq, value = word.partition('=')
            if not eq:
                if i >= len(names):
                    raise ValueError('%s takes %s' % (cls.name, ', '.join(names) or 'no parameter'))
                key, value = names[i], word
            if key not in cls.params:
                raise ValueError('%s takes no %s (it takes: %s)'
                                 % (cls.name, key, ', '.join(names) or 'nothing'))
            params[key] = type(cls.params[key])(value)
        return target, params

    # -- the commands ----------------------------------------------------------------------
    def do_inject(self, line):
        """inject FAULT NODE [PARAM=VALUE ...]: inject a registered fault (see `faults`)."""
        words = line.split()
        try:
            cls = faults.get(words[0]) if words else None
            if cls is None:
                raise KeyError('usage: inject FAULT NODE [PARAM=VALUE ...]; faults: %s'
                               % ', '.join(sorted(faults.load())))
            target, params = self.parse(cls, words[1:])
        except (KeyError, ValueError) as e:
            return self.say(str(e).strip('"\''))
        self.inject(cls.name, target, **params)

    def do_clear(self, line):
        """clear NODE [FAULT]: undo the fault last injected into NODE (or that one)."""
        words = line.split()
        here = [k for k in self.active if words and k[1] == words[0]
                and (len(words) < 2 or k[0] == words[1])]
        if not here:
            return self.say('nothing to clear there; in place: %s'
                            % (', '.join('%s on %s' % k for k in self.active) or 'nothing'))
        self.clear(*here[-1])

    def do_faults(self, _line):
        """faults: every registered fault, its targets, parameters and short commands."""
        for name, cls in sorted(faults.load().items()):
            self.say('%-10s %-28s %s%s' % (name, '(%s)' % ' / '.join(c for c in cls.commands if c),
                                           cls.description, ''.join(
                                               '; %s=%s' % kv for kv in cls.params.items())))
        self.say('in place: %s' % (', '.join('%s on %s' % k for k in self.active) or 'nothing'))

    def do_owners(self, _line):
        """owners: who holds the VIP (a director counts when its links are up)."""
        rec = self.network.recorder
        for d in DIRECTORS:
            st = rec.node(d)
            self.say('%s: %s, links %s, table %s' % (
                d, 'holds the VIP' if st['vip'] else 'no VIP', 'up' if st['link'] else 'DOWN',
                ', '.join('%s: %d servers' % (k, len(v)) for k, v in st['table'].items())
                or 'empty'))
        owners = rec.owners(DIRECTORS)
        self.say('VIP owners: %s%s' % (', '.join(owners) or 'none',
                                       '  <- SPLIT BRAIN' if len(owners) > 1 else ''))
        if self.active:
            self.say('faults in place: %s' % ', '.join('%s on %s' % k for k in self.active))

    def do_figure(self, _line):
        """figure: `ipvsadm -L` of laicoz and laicoy, as in the paper's figures."""
        for d in (PRIMARY, BACKUP):
            self.stdout.write('--- %s\n%s' % (d, self.network[d].snapshot()))


def _short(cls, clearing):
    node = '' if cls.targets == 'directors' else ' NODE'
    params = ''.join(' [%s]' % p.upper() for p in cls.params)

    def command(self, line):
        try:
            target, params = self.parse(cls, line.split())
        except ValueError as e:
            return self.say(str(e))
        first = next(iter(params.values()), None)
        if clearing or (first is not None and not first):
            if (cls.name, target) in self.active:
                self.clear(cls.name, target)
            elif clearing:
                self.say('no %s on %s to clear' % (cls.name, target))
            return
        self.inject(cls.name, target, **params)
    command.__doc__ = ('%s%s: undo %s' % (cls.commands[1], node, cls.name) if clearing else
                       '%s%s%s: %s' % (cls.commands[0], node, params, cls.description))
    return command


def commands():
    """LabCommands with each registered fault's short forms."""
    methods = {}
    for cls in faults.load().values():
        inject, clear = cls.commands
        if inject:
            methods['do_' + inject] = _short(cls, False)
        if clear:
            methods['do_' + clear] = _short(cls, True)
    return type('Lab', (LabCommands,), methods)
