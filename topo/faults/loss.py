"""Packet loss on a node's link (netem on both ends of its cable): what it sends
and what is sent to it is dropped with the given probability."""
from topo.faults import Fault, register


@register
class Loss(Fault):
    name = 'loss'
    description = "netem packet loss (percent) both ways on the node's link; clear: removed"
    inject_word, clear_word = 'lossy', 'clean'
    params = {'percent': 30.0}

    def _inject(self):
        return self.cluster.loss(self.target, self.options['percent'])

    def _clear(self):
        return self.cluster.loss(self.target, 0)
