"""The paper's stack: Linux-HA heartbeat (v1, haresources) moves the VIP and
ldirectord, which builds the IPVS table on the active director only."""
import ipaddress
import secrets
from dataclasses import dataclass

from topo.ha import HAStack, Settings, SweepAxis, register, setting
from topo.ha.daemons.heartbeat import Heartbeat
from topo.ha.daemons.ldirectord import Ldirectord
from topo.network.config import DIRECTORS, PRIMARY, ConfigError


def haresources_address(address):
    """An address as an haresources argument: '::' separates a resource's arguments
    there, so an IPv6 address is written in full (2001:0db8:0014:0000:...:0146)."""
    return ipaddress.ip_address(address).exploded if ':' in address else address


@dataclass
class HeartbeatSettings(Settings):
    keepalive: float = setting(0.25, 'seconds between heartbeats', type=float, metavar='S')
    deadtime: float = setting(1.0, 'silence after which the peer is declared dead',
                              type=float, metavar='S')
    warntime: float = setting(None, 'late-heartbeat warning (default: halfway between '
                              'keepalive and deadtime)', type=float, metavar='S')
    initdead: float = setting(10.0, 'deadtime allowed at start-up (heartbeat wants >= 10 s)',
                              type=float, metavar='S')
    resources: str = setting('lean', "resource scripts: 'stock' = the distribution's IPaddr2 "
                             "and ldirectord with its defaults; 'lean' = fork-light scripts and "
                             'no start-up flap of the table (same group, same order)',
                             choices=('lean', 'stock'))
    hot_standby: bool = setting(False, 'heartbeat moves only the VIP; ldirectord runs on both '
                                'directors all the time, so the backup table is warm (the '
                                "common production layout, not the paper's)",
                                action='store_true')

    @property
    def warntime_s(self):
        return self.warntime if self.warntime is not None \
            else round((self.keepalive + self.deadtime) / 2, 3)

    def check(self):
        Settings.check(self)
        if self.keepalive < 0.01:
            raise ConfigError('--keepalive %.3gs: heartbeat needs at least 10 ms' % self.keepalive)
        if self.deadtime <= 2 * self.keepalive:
            raise ConfigError('--deadtime %.3gs must be more than twice --keepalive %.3gs, or one '
                              'lost heartbeat declares the peer dead'
                              % (self.deadtime, self.keepalive))
        if not self.keepalive < self.warntime_s < self.deadtime:
            raise ConfigError('--warntime %.3gs must lie between keepalive %.3gs and deadtime '
                              '%.3gs' % (self.warntime_s, self.keepalive, self.deadtime))
        if self.initdead < self.deadtime:
            raise ConfigError('--initdead %.3gs must be at least --deadtime %.3gs'
                              % (self.initdead, self.deadtime))


@register
class HeartbeatStack(HAStack):
    name = 'heartbeat'
    Settings = HeartbeatSettings
    layouts = {'heartbeat': ({}, "heartbeat as in the paper: VIP + ldirectord, cold backup"),
               'hot-standby': ({'hot_standby': True},
                               'heartbeat moves only the VIP; ldirectord on both directors')}
    # keepalive a quarter of the deadtime; heartbeat wants initdead >= 10 s
    sweep_axis = SweepAxis('deadtime', '--deadtimes', '1,2,4', 'heartbeat deadtime (s)',
                           lambda v: {'deadtime': v, 'keepalive': round(v / 4, 3),
                                      'initdead': max(10.0, v)})
    detected_pattern = r'node (laicoz|laicoy): is dead'
    rejoined_pattern = r'Status update for node laicoy: status active'
    removed_pattern = r'Deleted real server: {address}\b'
    daemon_classes = (Heartbeat, Ldirectord)

    # active/active: each director owns its next hop (haresources' two lines)
    active_active = True

    def __init__(self, config, settings=None):
        HAStack.__init__(self, config, settings)
        if config.active_active and not self.settings.hot_standby:
            raise ConfigError('--active-active with heartbeat: both directors serve, so '
                              'ldirectord must run on both: add --hot-standby')
        if any(':' in v for v in config.vips) and self.settings.resources == 'stock':
            raise ConfigError('an IPv6 VIP with --resources stock: haresources passes '
                              'IPaddr2 no preferred_lft, so the VIP would become the source '
                              'of the director\'s own connections, ldirectord\'s checks '
                              'among them, which the real servers answer to the VIP on '
                              'their own lo: use --resources lean (or --stack pacemaker)')
        self.secret = secrets.token_hex(20)     # per run, only in the mode-600 authkeys

    @property
    def description(self):
        if self.settings.hot_standby:
            return 'heartbeat v1 hot standby (VIP only; ldirectord on both)'
        return 'heartbeat v1 (VIP + ldirectord as the resource group of laicoz)'

    @property
    def backup_table_warm(self):
        return self.settings.hot_standby

    @property
    def acquire_deadline_s(self):
        return self.settings.initdead + 30.0

    @property
    def acquire_deadline_why(self):
        return 'initdead %gs + 30s for its resource scripts under a slow kernel' \
            % self.settings.initdead

    def parameters(self):
        s = self.settings
        return dict(HAStack.parameters(self), warntime=s.warntime_s,
                    auto_failback=not s.nice_failback,
                    haresources='; '.join(' '.join(r) for r in self.resources()))

    def resources(self):
        """haresources' lines: [the node that owns the group, its resources]."""
        stock = self.settings.resources == 'stock'
        if self.config.active_active:
            # each director owns its own next hop (dual stack: one per family), given
            # back to it when it returns
            return [[d, ' '.join(('IPaddr2::%s/%d' if stock else 'VIP::%s/%d')
                                 % (haresources_address(hop), self.config.prefixlen_of(hop))
                                 for hop in self.config.next_hop_sets[d])] for d in DIRECTORS]
        return [[PRIMARY, self.group(stock)]]

    def group(self, stock):
        c = self.config
        resource = lambda address, prefixlen: (
            'IPaddr2::%s/%d' if stock else 'VIP::%s/%d') % (
            haresources_address(address), prefixlen) + (
            # (the lean resource skips IPv6's duplicate address detection otherwise)
            '::dad' if c.vip_dad and ':' in address else '')
        # dual stack: a resource per VIP, the second after the first; with NAT each
        # family's gateway for the real servers right after its VIP
        address = ' '.join(
            resource(v, c.prefixlen_of(v)) + (
                ' ' + resource(gateway, c.inside_prefixlen_of(gateway)) if gateway else '')
            for v, gateway in zip(c.vips, c.gateways if c.nat else [None] * 2))
        if self.settings.hot_standby:
            return address
        # The paper's group, in its order: the VIP, then ldirectord. Until ldirectord has
        # added a real server, the VIP refuses connections at once (RST), so clients
        # retry into the service the moment the table has a server.
        return '%s %s::ldirectord.cf' % (address, 'ldirectord' if stock else 'LVSDirector')

    def daemons(self, director):
        s = self.settings
        ms = lambda seconds: int(round(seconds * 1000))
        return [Heartbeat(director, keepalive_ms=ms(s.keepalive), deadtime_ms=ms(s.deadtime),
                          warntime_ms=ms(s.warntime_s), initdead_ms=ms(s.initdead),
                          auto_failback='off' if s.nice_failback else 'on',
                          resources=self.resources(), secret=self.secret,
                          nodes=list(DIRECTORS)),
                Ldirectord(director, cluster=self.service, check_interval=s.check_interval,
                           check_timeout=s.check_timeout, failure_count=1,
                           readdquiescent='yes' if s.resources == 'lean' else 'no')]

    def boot(self, director):
        heartbeat, ldirectord = self.daemons(director)
        steps = self.daemon_steps(heartbeat)[:-1]
        if self.settings.sync_daemon:          # Debian's heartbeat has no LVSSyncDaemonSwap
            steps += self.sync_daemons(director)
        if self.settings.hot_standby:          # on both directors, at boot
            steps += self.daemon_steps(ldirectord)
        # (in the paper's layout heartbeat starts ldirectord with the resources)
        return steps + self.daemon_steps(heartbeat)[-1:]
