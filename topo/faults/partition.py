"""Split brain's classic cause: the path between the two directors is cut on
the hub (the hub drops what either sends the other) while the client and the
real servers still reach both. clear() heals the hub."""
from topo.faults import Fault, register
from topo.network.config import DIRECTORS


@register
class Partition(Fault):
    name = 'partition'
    description = 'the directors no longer hear each other; everyone else hears both'
    inject_word, clear_word = 'partitioned', 'healed'
    commands = ('partition', 'heal')
    targets = 'directors'

    def _inject(self):
        return self.network.cut(*DIRECTORS)

    def _clear(self):
        return self.network.heal()

    def label(self, word):
        return 'directors %s' % word
