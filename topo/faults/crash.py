"""The HA daemons of a director die (SIGKILL) while the machine runs on: the VIP
and the IPVS table stay in its kernel, nobody cleans up. clear() is the admin's
restart: the director's HA state cleared and its stack started as at boot."""
import time

from topo.faults import Fault, register


@register
class Crash(Fault):
    name = 'crash'
    description = 'SIGKILL of the HA daemons only; VIP and IPVS table stay; clear: restart'
    inject_word, clear_word = 'crashed', 'restarted'
    commands = ('crash', 'restart')
    clear_boots = True
    director_lost = True
    targets = 'director'

    def _inject(self):
        self.killed = self.node.kill(names=self.network.stack.processes())
        return time.time()

    def _clear(self):
        self.node.clear_state()
        t = time.time()
        self.network.boot(self.target)
        return t
