"""The live lab: Mininet's CLI on the HA cluster, with commands that inject and
clear the testbed's faults by hand, so a teacher can replay the paper live.

  poweroff NODE / poweron NODE     the paper's switch off / on
  unplug NODE / plug NODE          cable pull (processes and kernel state kept)
  crash DIRECTOR / restart DIRECTOR   SIGKILL of the HA daemons / the admin's restart
  partition / heal                 the directors no longer hear each other / again
  loss NODE PERCENT                packet loss on the node's link (0: none)
  hang SERVER / resume SERVER      a real server's web server stopped / running again
  owners                           who holds the VIP (and whose links are up)
  figure                           `ipvsadm -L` of both directors, as in the paper's figures
"""
from mininet.cli import CLI

from topo import faults
from topo.network.config import BACKUP, DIRECTORS, PRIMARY


class LabCLI(CLI):
    prompt = 'lab> '

    def __init__(self, cluster, *args, **kwargs):
        self.cluster = cluster
        self.active = {}        # (fault, target) -> the fault object, until cleared
        CLI.__init__(self, cluster.net, *args, **kwargs)

    # -- helpers --------------------------------------------------------------------
    def _node(self, line, allowed=None):
        words = line.split()
        if len(words) != 1 or words[0] not in (allowed or self.cluster.config.hosts):
            self.stdout.write('give one of: %s\n' % ', '.join(allowed or self.cluster.config.hosts))
            return None
        return words[0]

    def _inject(self, fault, target, **params):
        key = (fault, target)
        if key in self.active:
            self.stdout.write('%s on %s is in place already\n' % (fault, target))
            return
        try:
            f = faults.get(fault)(self.cluster, target, **params)
            f.check_target(target, self.cluster.config)
            f.inject()
        except (ValueError, RuntimeError) as e:
            self.stdout.write('%s\n' % e)
            return
        self.active[key] = f
        self.stdout.write('%s: %s\n' % (f.label(f.inject_word), f.description))

    def _clear(self, fault, target):
        f = self.active.pop((fault, target), None)
        if f is None:
            self.stdout.write('no %s on %s to clear\n' % (fault, target))
            return
        f.clear()
        self.stdout.write('%s\n' % f.label(f.clear_word))

    # -- the commands ----------------------------------------------------------------
    def do_poweroff(self, line):
        """poweroff NODE: switch the node off (links down, processes killed)."""
        node = self._node(line)
        if node:
            self._inject('power-off', node)

    def do_poweron(self, line):
        """poweron NODE: switch it on again (its services start as at boot)."""
        node = self._node(line)
        if node:
            self._clear('power-off', node)

    def do_unplug(self, line):
        """unplug NODE: pull its cable (processes and kernel state stay)."""
        node = self._node(line)
        if node:
            self._inject('cable-pull', node)

    def do_plug(self, line):
        """plug NODE: plug its cable back."""
        node = self._node(line)
        if node:
            self._clear('cable-pull', node)

    def do_crash(self, line):
        """crash DIRECTOR: SIGKILL its HA daemons; VIP and IPVS table stay."""
        node = self._node(line, list(DIRECTORS))
        if node:
            self._inject('crash', node)

    def do_restart(self, line):
        """restart DIRECTOR: after a crash, clear its HA state and start its stack."""
        node = self._node(line, list(DIRECTORS))
        if node:
            self._clear('crash', node)

    def do_partition(self, _line):
        """partition: the directors no longer hear each other (everyone else hears both)."""
        self._inject('partition', PRIMARY)

    def do_heal(self, _line):
        """heal: the directors hear each other again."""
        self._clear('partition', PRIMARY)

    def do_loss(self, line):
        """loss NODE PERCENT: netem packet loss on the node's link; loss NODE 0 removes it."""
        words = line.split()
        try:
            node, percent = words[0], float(words[1])
            assert len(words) == 2 and node in self.cluster.config.hosts and 0 <= percent <= 100
        except (IndexError, ValueError, AssertionError):
            self.stdout.write('usage: loss NODE PERCENT (0..100)\n')
            return
        if ('loss', node) in self.active:
            self._clear('loss', node)
        if percent:
            self._inject('loss', node, percent=percent)

    def do_hang(self, line):
        """hang SERVER: stop a real server's web server (it accepts, never answers)."""
        node = self._node(line, self.cluster.config.real_servers)
        if node:
            self._inject('hang', node)

    def do_resume(self, line):
        """resume SERVER: let a hung web server run on."""
        node = self._node(line, self.cluster.config.real_servers)
        if node:
            self._clear('hang', node)

    def do_owners(self, _line):
        """owners: who holds the VIP (a director counts when its links are up)."""
        rec = self.cluster.recorder
        for d in DIRECTORS:
            st = rec.node(d)
            self.stdout.write('%s: %s, links %s, table %s\n' % (
                d, 'holds the VIP' if st['vip'] else 'no VIP', 'up' if st['link'] else 'DOWN',
                ', '.join('%s: %d servers' % (k, len(v)) for k, v in st['table'].items())
                or 'empty'))
        owners = rec.owners(DIRECTORS)
        self.stdout.write('VIP owners: %s%s\n' % (', '.join(owners) or 'none',
                                                  '  <- SPLIT BRAIN' if len(owners) > 1 else ''))
        if self.active:
            self.stdout.write('faults in place: %s\n' % ', '.join(
                '%s on %s' % k for k in self.active))

    def do_figure(self, _line):
        """figure: `ipvsadm -L` of laicoz and laicoy, as in the paper's figures."""
        for d in (PRIMARY, BACKUP):
            self.stdout.write('--- %s\n%s' % (d, self.cluster[d].snapshot()))

    def clear_all(self):
        """Undo what is still in place (before the teardown)."""
        for (fault, target) in list(self.active):
            try:
                self._clear(fault, target)
            except Exception:       # the teardown follows anyway
                pass
