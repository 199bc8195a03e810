"""Power-off: the paper's fault. Links down first (the network sees the PC vanish
at once, not after the slow walk through its processes), every process of the
node killed, its VIP and IPVS table gone; clear() switches it on: links up, its
services (and its HA stack) started as at boot."""
from topo.faults import Fault, register


@register
class PowerOff(Fault):
    name = 'power-off'
    description = 'links down, every process killed, kernel state gone; clear: boot again'
    inject_word, clear_word = 'off', 'on'
    commands = ('poweroff', 'poweron')
    machine_command = 'power_off'

    def _inject(self):
        t = self.links(False)
        self.node.kill()
        self.node.clear_state()
        return t

    def _clear(self):
        self.node.clear_state()
        t = self.links(True)
        self.network.boot(self.target)
        return t
