"""A cable pulled: the node's cable to the hub goes down while every process and all
kernel state (VIP, IPVS table) stay (a crossover cable stays in); clear() plugs it
back. Flapping: the same, count times."""
import threading

from topo.faults import Fault, register


@register
class CablePull(Fault):
    name = 'cable-pull'
    description = 'links down, processes and kernel state kept; clear: links up'
    inject_word, clear_word = 'unplugged', 'plugged'
    commands = ('unplug', 'plug')

    def _inject(self):
        return self.links(False, lan_only=True)

    def _clear(self):
        return self.links(True, lan_only=True)


@register
class Flap(Fault):
    name = 'flap'
    description = 'the cable pulled and plugged back, count times, down and up period/2 each'
    inject_word, clear_word = 'flapping', 'steady'
    commands = ('flap', 'steady')
    params = {'count': 10, 'period': 2.0}
    param_help = {'count': 'flap: cable pulls', 'period': 'flap: seconds of one pull and plug'}

    @classmethod
    def check_params(cls, params):
        if params.get('count', 1) < 1 or params.get('period', 1.0) <= 0:
            raise ValueError('--count and --period must be positive')

    def _inject(self):
        self.done = threading.Event()
        first = self.links(False, lan_only=True)
        self.thread = threading.Thread(target=self._flap, daemon=True, name='flap')
        self.thread.start()
        return first

    def _flap(self):
        half = self.options['period'] / 2
        for i in range(self.options['count']):
            if i:
                self.links(False, lan_only=True)
            if self.done.wait(half):
                break
            self.links(True, lan_only=True)
            if self.done.wait(half):
                break

    def _clear(self):
        """Waits for the flapping to end (or ends it), leaves the cable in."""
        self.thread.join(self.options['count'] * self.options['period'] + 30)
        self.done.set()
        self.thread.join(10)
        return self.links(True, lan_only=True)
