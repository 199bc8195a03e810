"""Heartbeat's successor: Pacemaker over Corosync, with fencing (STONITH).

Corosync's membership says when the peer is gone (token + consensus); Pacemaker
then fences it (through the testbed's own power: topo/ha/fencing.py) before it
starts the service elsewhere: the VIP (ocf:heartbeat:IPaddr2) and ldirectord
(ocf:heartbeat:ldirectord), one group as in the paper, or only the VIP with
ldirectord a clone on both directors (hot standby). Two-node settings as the
ClusterLabs documentation gives them: corosync's two_node, and a fencing delay
for whoever holds the service (priority-fencing-delay) against both directors
shooting each other in a split brain.
"""
import secrets
from dataclasses import dataclass

from topo.ha import HAStack, Settings, SweepAxis, register, setting
from topo.ha.daemons.corosync import Corosync
from topo.ha.daemons.ldirectord import CONFIG as LDIRECTORD_CONFIG, Ldirectord
from topo.ha.daemons.pacemaker import Pacemaker
from topo.network.config import (CLIENT, DIRECTORS, PRIMARY, ROUTER, ConfigError,
                                 inside_interface)

# where the CIB points its fence devices before a run has its power switch (a
# configuration only checked, never started)
NO_SWITCH = '/tmp/hatestbed-fence.check/power.sock'
# on real machines: where each director's SSH server serves the control node's switch
# for a run (forwarded over the run's connection; nothing listens between runs)
MACHINES_SWITCH = '/run/hatestbed-fence/power.sock'


@dataclass
class PacemakerSettings(Settings):
    token: int = setting(3000, "Corosync's token timeout: silence after which a node is "
                         'declared lost (ms)', type=int, metavar='MS')
    consensus: int = setting(None, "Corosync's wait for consensus before a new membership "
                             '(default: 1.2 x token)', type=int, metavar='MS')
    fencing: str = setting('on', "STONITH through the testbed's power ('off' shows why "
                           'Pacemaker requires it)', choices=('on', 'off'))
    fence_action: str = setting('off', "what fencing does: 'off' (a fenced director stays "
                                "off until repaired) or 'reboot'", choices=('off', 'reboot'))
    fence_delay: float = setting(None, 'priority-fencing-delay: the fencing of the director '
                                 'that runs the service waits this long, so in a split brain '
                                 'its holder fences first (0: the race of the two fencers; '
                                 'default: 2)',
                                 type=float, metavar='S')
    monitor_interval: int = setting(10, 'seconds between the monitor operations of the VIP '
                                    'and ldirectord', type=int, metavar='S')
    arp_count: int = setting(5, "gratuitous ARPs the VIP's new owner sends (IPaddr2)",
                             type=int, metavar='N')
    hot_standby: bool = setting(False, 'Pacemaker moves only the VIP; ldirectord runs on both '
                                'directors as a clone, so the backup table is warm',
                                action='store_true')
    ping: bool = setting(False, "ClusterLabs' remedy for a director cut off from the "
                         'clients: a ping resource keeps the VIP off a director that cannot '
                         'reach them, and a director may fence only if it reaches them '
                         '(fence_heuristics_ping before its fence device)',
                         action='store_true')

    @property
    def consensus_ms(self):
        return self.consensus if self.consensus is not None else int(round(1.2 * self.token))

    @property
    def fence_delay_s(self):
        return self.fence_delay if self.fence_delay is not None else 2.0

    def check(self):
        Settings.check(self)
        if self.token < 100:
            raise ConfigError('--token %d ms: Corosync needs at least 100 ms' % self.token)
        if self.consensus_ms < 1.2 * self.token:
            raise ConfigError('--consensus %d ms must be at least 1.2 x --token (%d ms), as '
                              'corosync.conf(5) requires' % (self.consensus_ms,
                                                             int(1.2 * self.token)))
        if self.fence_delay_s < 0:
            raise ConfigError('--fence-delay %gs: a delay is 0 or more' % self.fence_delay_s)
        if self.monitor_interval < 1:
            raise ConfigError('--monitor-interval: whole seconds, at least 1')
        if not 1 <= self.arp_count <= 100:
            raise ConfigError('--arp-count %d: IPaddr2 sends 1 to 100' % self.arp_count)
        if self.fencing == 'off' and self.fence_delay is not None:
            raise ConfigError('--fence-delay applies with --fencing on only')


@register
class PacemakerStack(HAStack):
    name = 'pacemaker'
    Settings = PacemakerSettings
    layouts = {'pacemaker': ({}, 'Pacemaker + Corosync: VIP + ldirectord as one group, '
                                 'fencing on'),
               'pacemaker-hot-standby': ({'hot_standby': True},
                                         'Pacemaker moves only the VIP; ldirectord a clone '
                                         'on both directors')}
    sweep_axis = SweepAxis('token', '--tokens', '3000,1000,500', 'Corosync token (s)',
                           lambda v: {'token': int(v)}, seconds=0.001)
    # the new membership without the peer (corosync's own log)
    detected_pattern = r'Members left: \d'
    rejoined_pattern = r'Members joined: \d'
    removed_pattern = r'Deleted real server: {address}\b'
    daemon_classes = (Corosync, Pacemaker, Ldirectord)
    handover_daemon = Pacemaker     # (corosync stopped first would be a node lost, fenced)
    # both start together: with two_node, a node alone waits for its peer (wait_for_all)
    backup_waits_for_primary = False

    @property
    def powers_directors(self):
        return self.settings.fencing == 'on'

    # active/active: each director's next hop a group of its own, ldirectord on both
    active_active = True

    def __init__(self, config, settings=None):
        HAStack.__init__(self, config, settings)
        if config.active_active and not self.settings.hot_standby:
            raise ConfigError('--active-active with pacemaker: both directors serve, so '
                              'ldirectord must run on both: add --hot-standby')
        self.secret = secrets.token_hex(128)    # per run, only in the mode-600 authkey
        self.switch = None

    @property
    def description(self):
        fencing = 'fencing %s' % self.settings.fencing
        if self.settings.hot_standby:
            return 'Pacemaker + Corosync hot standby (VIP only; ldirectord a clone), %s' \
                % fencing
        return 'Pacemaker + Corosync (VIP + ldirectord as one group), %s' % fencing

    @property
    def backup_table_warm(self):
        return self.settings.hot_standby

    @property
    def acquire_deadline_s(self):
        return 60.0

    acquire_deadline_why = "Corosync's join, Pacemaker's election and its resource agents " \
                           'under a slow kernel'

    def parameters(self):
        return dict(HAStack.parameters(self), consensus=self.settings.consensus_ms,
                    fence_delay=self.settings.fence_delay_s,
                    two_node=True, dc_deadtime_s=2.0)

    # -- the testbed's power, for the fence devices -----------------------------------
    def attach(self, network):
        if self.settings.fencing == 'on':
            from topo.ha.fencing import PowerSwitch
            self.switch = PowerSwitch(network, DIRECTORS).start()
            if self.on_machines:    # the agent on each director reaches it over SSH
                network.forward_socket(DIRECTORS, MACHINES_SWITCH, self.switch.path)

    @property
    def power_socket(self):
        """Where the fence agent on a director finds the run's power switch."""
        if self.on_machines:        # one path, as deployed, whichever run serves it
            return MACHINES_SWITCH
        return self.switch.path if self.switch else NO_SWITCH

    def detach(self):
        if self.switch is not None:
            self.switch.stop()
            self.switch = None

    # -- configuration ------------------------------------------------------------------
    def nodes(self):
        addresses = lambda d: [self.config.addresses[d]] + (
            [self.config.CROSSOVER[d]] if self.config.crossover else [])
        return [{'name': d, 'id': i, 'addresses': addresses(d)}
                for i, d in enumerate(DIRECTORS, 1)]

    def ping_targets(self):
        """What a director must reach to hold the service (--ping): the clients' side of
        the hub, the client itself, or the router in front of it."""
        if not self.settings.ping:
            return []
        c = self.config
        return [c.addresses[ROUTER] if c.router else c.addresses[CLIENT]]

    def groups(self):
        """The address groups Pacemaker moves, each with the director it prefers: the VIP
        (with NAT the real servers' gateway after it) on laicoz; active/active each
        director's next hop on it (the VIP is on both directors' lo)."""
        c = self.config
        lan = [[d, c.lan_interfaces[d]] for d in DIRECTORS]
        if c.active_active:
            return [{'id': 'lvs' if d == PRIMARY else 'lvs-%s' % d, 'node': d,
                     'addresses': [{'id': 'next-hop-%s' % d if i == 0 else 'next-hop-%s-ipv%d'
                                    % (d, 6 if ':' in hop else 4), 'ip': hop,
                                    'prefixlen': c.prefixlen_of(hop),
                                    'nodad': c.vip_dad is False, 'nics': lan}
                                   for i, hop in enumerate(c.next_hop_sets[d])]}
                    for d in DIRECTORS]
        name = lambda kind, address, first: kind if first else '%s-ipv%d' % (
            kind, 6 if ':' in address else 4)
        out = []
        # dual stack: the other family's VIP after the first; with NAT each family's
        # gateway right after its VIP (an IPv6 IPaddr2 takes seconds: its NAs are sent
        # in the foreground), or answers would go back through the other director
        for i, (v, gateway) in enumerate(zip(c.vips, c.gateways if c.nat else [None] * 2)):
            out.append({'id': name('vip', v, i == 0), 'ip': v, 'prefixlen': c.prefixlen_of(v),
                        'nodad': c.vip_dad is False,      # (IPaddr2 waits DAD out by default)
                        'nics': lan})
            if gateway:
                # (IPv6: no duplicate address detection unless asked for: the testbed's
                # own address on its private network)
                out.append({'id': name('gateway', gateway, i == 0), 'ip': gateway,
                            'prefixlen': c.inside_prefixlen_of(gateway),
                            'nodad': c.vip_dad is not True,
                            'nics': [[d, inside_interface(d)] for d in DIRECTORS]})
        return [{'id': 'lvs', 'node': PRIMARY, 'addresses': out}]

    def daemons(self, director):
        s = self.settings
        return [Corosync(director, token_ms=s.token, consensus_ms=s.consensus_ms,
                         join_ms=50, retransmits=4, nodes=self.nodes(), authkey=self.secret),
                # (not `groups`: a deployment renders it with Ansible, whose variable that is)
                Pacemaker(director, nodes=self.nodes(), address_groups=self.groups(),
                          fencing=s.fencing == 'on', fence_action=s.fence_action,
                          fence_delay_ms=int(round(s.fence_delay_s * 1000)),
                          dc_deadtime_ms=2000,
                          power_socket=self.power_socket,
                          arp_count=s.arp_count,
                          arp_interval_ms=200, monitor_interval=s.monitor_interval,
                          hot_standby=s.hot_standby, ldirectord_config=LDIRECTORD_CONFIG,
                          ping_targets=self.ping_targets(),
                          stickiness=200 if s.nice_failback else 0),
                Ldirectord(director, cluster=self.service, check_interval=s.check_interval,
                           check_timeout=s.check_timeout, failure_count=1,
                           readdquiescent='yes')]

    def boot(self, director):
        corosync, pacemaker, _ = self.daemons(director)
        steps = self.daemon_steps(corosync, pacemaker)
        if self.settings.sync_daemon:
            steps = self.sync_daemons(director) + steps
        return steps
