"""A real server that hangs: its web server is stopped (SIGSTOP), so it accepts
connections (the kernel completes the handshake) but never answers. The health
check must find it out. clear() lets it run on (SIGCONT)."""
import signal
import time

from topo.faults import Fault, register


@register
class Hang(Fault):
    name = 'hang'
    description = 'the web server stopped: connections accepted, never answered'
    inject_word, clear_word = 'hung', 'resumed'
    commands = ('hang', 'resume')
    targets = 'real server'
    default_target = 'laico2'

    def _signal(self, sig):
        self.node.signal(sig, self.node.processes(self.node.WEB))
        return time.time()

    def _inject(self):
        return self._signal(signal.SIGSTOP)

    def _clear(self):
        return self._signal(signal.SIGCONT)
