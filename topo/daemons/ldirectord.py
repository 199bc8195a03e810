"""ldirectord: health-checks the real servers and keeps the IPVS table."""
from topo.daemons import Daemon

CONFIG = '/etc/ha.d/ldirectord.cf'


class Ldirectord(Daemon):
    templates = {'ldirectord.cf': CONFIG}

    def context(self):
        ctx = Daemon.context(self)
        config = self.options['cluster']
        ctx.update(vip=config.vip, port=config.port, scheduler=config.scheduler,
                   reals='\n'.join('\treal=%s:%d gate %d' % (config.addresses[r], config.port, w)
                                   for r, w in zip(config.real_servers, config.weights)))
        return ctx

    def start(self):
        """Standalone (hot standby); as heartbeat's resource, heartbeat starts it."""
        self.node.cmd('ldirectord %s start' % CONFIG)

    def stop(self):
        self.node.cmd('ldirectord %s stop' % CONFIG)
