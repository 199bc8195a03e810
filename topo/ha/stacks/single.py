"""No HA at all: one director (laicoz) holds the VIP and runs ldirectord; laicoy is
switched on but does nothing. The paper's starting point, where the director is the
single point of failure; experiments/availability.py measures what HA adds to it."""
from topo.ha import HAStack, register
from topo.ha.daemons.ldirectord import Ldirectord
from topo.network.config import PRIMARY


@register
class SingleDirectorStack(HAStack):
    name = 'single'
    description = 'one director without HA (VIP and ldirectord on laicoz; laicoy idle)'
    layouts = {'single': ({}, 'one director without HA: the single point of failure')}
    redundant = False
    removed_pattern = r'Deleted real server: {address}\b'
    daemon_classes = (Ldirectord,)

    def daemons(self, director):
        if director.name != PRIMARY:
            return []
        s = self.settings
        return [Ldirectord(director, cluster=self.service, check_interval=s.check_interval,
                           check_timeout=s.check_timeout, failure_count=1,
                           readdquiescent='yes')]

    def start(self, director):
        """At boot, as an admin's init scripts would: the VIP on the LAN interface,
        then ldirectord (through the resource script that returns once the table has
        a real server)."""
        for ldirectord in self.daemons(director):
            director.take_service(self.config, subnet_prefix=True)
            ldirectord.start()
