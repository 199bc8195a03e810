"""The HA daemons of a director die (SIGKILL) while the machine runs on: the VIP
and the IPVS table stay in its kernel, nobody cleans up. clear() is the admin's
restart: the director's HA state cleared and its stack started as at boot."""
from topo.faults import Fault, register


@register
class Crash(Fault):
    name = 'crash'
    description = 'SIGKILL of the HA daemons only; VIP and IPVS table stay; clear: restart'
    inject_word, clear_word = 'crashed', 'restarted'
    targets = 'director'

    def _inject(self):
        return self.cluster.crash(self.target)

    def _clear(self):
        return self.cluster.restart_stack(self.target)
