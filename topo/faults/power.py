"""Power-off: the paper's fault, done by the backend (Network.power_off): in the
emulation links down, every process killed, its VIP and IPVS table gone; on real
machines the inventory's power_off. clear() switches it on: its services (and its HA
stack) started as at boot."""
from topo.faults import Fault, register


@register
class PowerOff(Fault):
    name = 'power-off'
    description = 'links down, every process killed, kernel state gone; clear: boot again'
    inject_word, clear_word = 'off', 'on'
    commands = ('poweroff', 'poweron')
    clear_boots = True
    director_lost = True
    machine_command = 'power_off'

    def _inject(self):
        return self.network.power_off(self.target, self.links)

    def _clear(self):
        return self.network.power_on(self.target, self.links)
