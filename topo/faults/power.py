"""Power-off: the paper's fault. Links down first (the network sees the PC
vanish at once), every process of the node killed, its VIP and IPVS table
gone; clear() switches it on: links up, its services started as at boot."""
from topo.faults import Fault, register


@register
class PowerOff(Fault):
    name = 'power-off'
    description = 'links down, every process killed, kernel state gone; clear: boot again'
    inject_word, clear_word = 'off', 'on'

    def _inject(self):
        return self.cluster.power_off(self.target)

    def _clear(self):
        return self.cluster.power_on(self.target)
