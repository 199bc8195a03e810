"""Packet loss on a node's cable (netem on both ends): what it sends and what is
sent to it is dropped with the given probability."""
import time

from topo.faults import Fault, register


@register
class Loss(Fault):
    name = 'loss'
    description = "netem packet loss (percent) both ways on the node's link; clear: removed"
    inject_word, clear_word = 'lossy', 'clean'
    commands = ('loss', 'lossless')
    params = {'percent': 30.0}
    param_help = {'percent': 'loss: packets lost (%%)'}

    @classmethod
    def check_params(cls, params):
        if not 0 < params.get('percent', 30.0) <= 100:
            raise ValueError('--percent: the share of packets lost, 0..100')

    def _inject(self):
        self.node.set_loss(self.options['percent'])
        return time.time()

    def _clear(self):
        self.node.set_loss(0)
        return time.time()
