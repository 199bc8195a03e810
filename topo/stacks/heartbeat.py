"""The paper's stack: Linux-HA heartbeat (v1, haresources) moves the VIP and
ldirectord, which builds the IPVS table on the active director only."""
import secrets

from topo.config import ConfigError
from topo.daemons.heartbeat import Heartbeat
from topo.daemons.ldirectord import Ldirectord
from topo.stacks import HAStack, register


@register
class HeartbeatStack(HAStack):
    name = 'heartbeat'
    description = 'heartbeat v1 (VIP + ldirectord as the resource group of laicoz)'
    detected_pattern = r'node (laicoz|laicoy): is dead'
    rejoined_pattern = r'Status update for node laicoy: status active'
    needs = [('file', '/usr/libexec/heartbeat/heartbeat', 'heartbeat'),
             ('cmd', 'ldirectord', 'ldirectord')]

    @classmethod
    def add_arguments(cls, parser):
        g = parser.add_argument_group('heartbeat')
        g.add_argument('--keepalive', type=float, default=0.25, metavar='S',
                       help='seconds between heartbeats')
        g.add_argument('--deadtime', type=float, default=1.0, metavar='S',
                       help='silence after which the peer is declared dead')
        g.add_argument('--warntime', type=float, default=None, metavar='S',
                       help='late-heartbeat warning (default: between keepalive and deadtime)')
        g.add_argument('--initdead', type=float, default=10.0, metavar='S',
                       help='deadtime allowed at start-up (heartbeat wants >= 10 s)')
        g.add_argument('--resources', choices=('lean', 'stock'), default='lean',
                       help="resource scripts: 'stock' = the distribution's IPaddr2 and "
                            "ldirectord with its defaults; 'lean' = fork-light scripts and no "
                            "start-up flap of the table (same group, same order)")
        g.add_argument('--hot-standby', action='store_true',
                       help='heartbeat moves only the VIP; ldirectord runs on both directors '
                            'all the time, so the backup table is warm (the common '
                            "production layout, not the paper's)")

    @classmethod
    def check_arguments(cls, a):
        if a.warntime is None:
            a.warntime = round((a.keepalive + a.deadtime) / 2, 3)
        if a.keepalive < 0.01:
            raise ConfigError('--keepalive %.3gs: heartbeat needs at least 10 ms' % a.keepalive)
        if a.deadtime <= 2 * a.keepalive:
            raise ConfigError('--deadtime %.3gs must be more than twice --keepalive %.3gs, or one '
                              'lost heartbeat declares the peer dead' % (a.deadtime, a.keepalive))
        if not a.keepalive < a.warntime < a.deadtime:
            raise ConfigError('--warntime %.3gs must lie between keepalive %.3gs and deadtime %.3gs'
                              % (a.warntime, a.keepalive, a.deadtime))
        if a.initdead < a.deadtime:
            raise ConfigError('--initdead %.3gs must be at least --deadtime %.3gs'
                              % (a.initdead, a.deadtime))

    def __init__(self, config, args):
        HAStack.__init__(self, config, args)
        self.hot = getattr(args, 'hot_standby', False)
        self.backup_table_warm = self.hot
        self.secret = secrets.token_hex(20)     # per run, only in the mode-600 authkeys
        if self.hot:
            self.description = 'heartbeat v1 hot standby (VIP only; ldirectord on both)'

    def parameters(self):
        a = self.args
        return dict(HAStack.parameters(self), keepalive_s=a.keepalive, deadtime_s=a.deadtime,
                    warntime_s=a.warntime, initdead_s=a.initdead,
                    auto_failback=not a.nice_failback, hot_standby=self.hot,
                    resources=a.resources, haresources=self.resources())

    def detection_setting(self):
        return 'deadtime_s', self.args.deadtime

    def resources(self):
        vip = '%s/%d' % (self.config.vip, self.config.prefixlen)
        address = ('IPaddr2::%s' if self.args.resources == 'stock' else 'VIP::%s') % vip
        if self.hot:
            return address
        # The paper's group, in its order: the VIP, then ldirectord. Until ldirectord has
        # added a real server, the VIP refuses connections at once (RST), so clients
        # retry into the service the moment the table has a server.
        director = 'ldirectord' if self.args.resources == 'stock' else 'LVSDirector'
        return '%s %s::ldirectord.cf' % (address, director)

    def daemons(self, director):
        a = self.args
        ms = lambda s: int(round(s * 1000))
        return [Heartbeat(director, keepalive_ms=ms(a.keepalive), deadtime_ms=ms(a.deadtime),
                          warntime_ms=ms(a.warntime), initdead_ms=ms(a.initdead),
                          auto_failback='off' if a.nice_failback else 'on',
                          resources=self.resources(), secret=self.secret),
                Ldirectord(director, cluster=self.config, check_interval=a.check_interval,
                           check_timeout=a.check_timeout, failure_count=1,
                           readdquiescent='yes' if a.resources == 'lean' else 'no')]

    def configure(self, director):
        return [p for d in self.daemons(director) for p in d.render()]

    def start(self, director):
        director.fresh_run()
        heartbeat, ldirectord = self.daemons(director)
        if self.hot:
            ldirectord.start()                 # on both directors, at boot
        heartbeat.start()      # (in the paper's layout it starts ldirectord with the resources)

    def logs(self, director):
        return ['/var/log/ha-log', '/var/log/ldirectord.log']
