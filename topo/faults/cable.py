"""A cable pulled: the node's links go down while every process and all kernel
state (VIP, IPVS table) stay; clear() plugs it back. Flapping: the same, N times."""
import threading

from topo.faults import Fault, register


@register
class CablePull(Fault):
    name = 'cable-pull'
    description = 'links down, processes and kernel state kept; clear: links up'
    inject_word, clear_word = 'unplugged', 'plugged'

    def _inject(self):
        return self.cluster.unplug(self.target)

    def _clear(self):
        return self.cluster.plug(self.target)


@register
class Flap(Fault):
    name = 'flap'
    description = 'the cable pulled and plugged back, count times, down and up period/2 each'
    inject_word, clear_word = 'flapping', 'steady'
    params = {'count': 10, 'period': 2.0}

    def _inject(self):
        self.done = threading.Event()
        first = self.cluster.unplug(self.target)
        self.thread = threading.Thread(target=self._flap, daemon=True, name='flap')
        self.thread.start()
        return first

    def _flap(self):
        half = self.options['period'] / 2
        for i in range(self.options['count']):
            if i:
                self.cluster.unplug(self.target)
            if self.done.wait(half):
                break
            self.cluster.plug(self.target)
            if self.done.wait(half):
                break

    def _clear(self):
        """Waits for the flapping to end (or ends it), leaves the cable in."""
        self.thread.join(self.options['count'] * self.options['period'] + 30)
        self.done.set()
        self.thread.join(10)
        return self.cluster.plug(self.target)
