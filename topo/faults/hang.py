"""A real server that hangs: its web server is stopped (SIGSTOP), so it accepts
connections (the kernel completes the handshake) but never answers. The health
check must find it out. clear() lets it run on (SIGCONT)."""
from topo.faults import Fault, register


@register
class Hang(Fault):
    name = 'hang'
    description = 'the web server stopped: connections accepted, never answered'
    inject_word, clear_word = 'hung', 'resumed'
    targets = 'real server'
    default_target = 'laico2'

    def _inject(self):
        return self.cluster.hang(self.target, True)

    def _clear(self):
        return self.cluster.hang(self.target, False)
