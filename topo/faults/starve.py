"""A node starved of CPU, as an overloaded machine is: its processes (the testbed's
instruments spared) get at most `share` of one CPU in every `cycle` (cgroup v2's
period), and a busy loop beside them takes the rest, so each cycle they run in one
short burst and wait the remainder out: a daemon's timer can fire up to
cycle x (1 - share) late. Nothing
fails and nothing is lost on the wire: a takeover under it is a false one (the price
of fast failure detection, experiments/sweep.py --starve). clear: the cap lifted, the
loop gone. cgroup v2's cpu.max: the emulation's own groups; a real machine's processes
(SSH and the testbed's agents spared) in a group of their own over SSH
(topo/backends/machines/cluster.py)."""
from topo.faults import Fault, register


@register
class Starve(Fault):
    name = 'starve'
    description = ('CPU starvation: the node runs share x cycle of every cycle, a busy '
                   'loop takes the rest (cgroup cpu.max); clear: fed again')
    inject_word, clear_word = 'starved', 'fed'
    commands = ('starve', 'feed')
    params = {'share': 0.1, 'cycle': 1.0}
    param_help = {'share': 'starve: the share of one CPU the node keeps (0..1)',
                  'cycle': 'starve: seconds of one burst and its wait (cgroup v2: 0.001..1)'}

    @classmethod
    def check_params(cls, params):
        share = params.get('share', 0.1)
        cycle = params.get('cycle', 1.0)
        if not 0 < share < 1:
            raise ValueError('--share %g: the share of one CPU the node keeps, between 0 '
                             'and 1' % share)
        if not 0.001 <= cycle <= 1:
            raise ValueError('--cycle %g: cgroup v2 counts CPU in periods of 1 ms to 1 s'
                             % cycle)
        if share * cycle < 0.001:
            raise ValueError('--share x --cycle = %g s: the kernel allows no less than '
                             '1 ms of CPU per period' % (share * cycle))

    def _inject(self):
        return self.network.starve(self.target, self.options['share'], self.options['cycle'])

    def _clear(self):
        return self.network.feed(self.target)
