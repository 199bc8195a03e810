"""The modern stack: keepalived's VRRP moves the VIP and its health checker
keeps an IPVS table on both directors (the backup's table is warm)."""
import secrets
from dataclasses import dataclass

from topo.ha import HAStack, Settings, SweepAxis, register, setting
from topo.ha.daemons import interfaces
from topo.ha.daemons.keepalived import Keepalived
from topo.network.config import BACKUP, PRIMARY, ConfigError, inside_interface


@dataclass
class KeepalivedSettings(Settings):
    advert_int: float = setting(0.2, 'VRRP advertisement interval; below 1 s needs VRRPv3, '
                                'which has no authentication (v2 with a per-run password '
                                'otherwise)', type=float, metavar='S')

    def check(self):
        Settings.check(self)
        if not 0.01 <= self.advert_int <= 255:
            raise ConfigError('--advert-int %.3gs: VRRP allows 0.01 to 255 s' % self.advert_int)
        if self.advert_int >= 1 and self.advert_int != int(self.advert_int):
            raise ConfigError('--advert-int %.3gs: above 1 s VRRP counts whole seconds'
                              % self.advert_int)

    @property
    def vrrp_version(self):
        return 3 if self.advert_int < 1 else 2


@register
class KeepalivedStack(HAStack):
    name = 'keepalived'
    description = 'keepalived (VRRP for the VIP, its checker keeps IPVS on both directors)'
    Settings = KeepalivedSettings
    layouts = {'keepalived': ({}, 'VRRP moves the VIP; the checker keeps IPVS on both')}
    sweep_axis = SweepAxis('advert_int', '--advert-ints', '0.1,0.2,0.5,1',
                           'VRRP advert_int (s)')
    detected_pattern = r'Entering MASTER STATE'
    rejoined_pattern = r'Entering BACKUP STATE'
    removed_pattern = r'Removing service \[{ip}\]:tcp:{port}\b'
    daemon_classes = (Keepalived,)
    # Both instances start in BACKUP and the first whose master-down timer runs out
    # becomes MASTER: laicoz's is shorter only by the skew time, (150-100)/256 x
    # advert_int = 40 ms at 0.2 s, and under UML's jitter laicoy sometimes won (2 of 6
    # boots of one test run: a start-up false takeover, caught by the invariants).
    # An admin boots the master first; so does the testbed.
    backup_waits_for_primary = True
    active_active = True

    def __init__(self, config, settings=None):
        HAStack.__init__(self, config, settings)
        v3 = self.vrrp_version == 3
        self.secret = None if v3 else secrets.token_hex(4)  # VRRPv2 PASS: 8 characters

    @property
    def vrrp_version(self):
        """3 below a second's adverts, and for an IPv6 VIP (VRRPv2 is IPv4 only)."""
        return 3 if self.config.ipv6 else self.settings.vrrp_version

    @property
    def backup_table_warm(self):
        return True

    @property
    def handover_overlap_s(self):
        # preemption: the old master lets go when the new one's first advert arrives
        return 0.25 + 2 * self.settings.advert_int

    def parameters(self):
        v3 = self.vrrp_version == 3
        return dict(HAStack.parameters(self), vrrp_version=self.vrrp_version,
                    authentication='none (VRRPv3 has none)' if v3 else 'PASS, per run',
                    preempt=not self.settings.nice_failback)

    def daemons(self, director):
        s = self.settings
        return [Keepalived(
            director, cluster=self.service, check_interval=s.check_interval,
            check_timeout=s.check_timeout, advert_int=s.advert_int,
            vrrp_version=self.vrrp_version,
            nopreempt=s.nice_failback, auth_pass=self.secret,
            instances=self.instances(director), sync_group=self.config.nat,
            # the sync daemon's role follows the instance: master on MASTER, backup on BACKUP
            sync_daemon={'iface': interfaces(director)[0], 'id': self.SYNC_ID}
            if s.sync_daemon else None)]

    def instances(self, director):
        """The VRRP instances: the VIP's, laicoz its master; with NAT also the real
        servers' gateway on the inside network, synced with the VIP's (keepalived's
        LVS-NAT design: the two move together, or the answers would return through
        another director). Active/active: each director's next hop instead of the VIP,
        each director the master of its own (the router's ECMP set stays whole)."""
        lan = interfaces(director)[0]
        c = self.config
        owned = [(PRIMARY, 'VI_LVS', 14, c.vips)]
        if c.active_active:
            owned = [(d, name, router_id, c.next_hop_sets[d]) for d, name, router_id in
                     ((PRIMARY, 'VI_LVS', 14), (BACKUP, 'VI_LVS_B', 16))]
        vip = lambda address: dict(
            address='%s/%d' % (address, c.prefixlen_of(address)),
            # IPv6: deprecated, never the source of the checkers' connections (keepalived
            # adds it without DAD unless told -nodad)
            options=' preferred_lft 0%s' % (' -nodad' if c.vip_dad else '')
            if ':' in address else '')
        out = [dict(self.role(director, master), name=name, iface=self.vrrp_iface(director),
                    router_id=router_id, dev=lan, unicast=self.unicast(director),
                    # dual stack: the other family's VIP (or next hop) moves with it,
                    # outside the adverts (one family per VRRP instance)
                    excluded=[vip(a) for a in addresses[1:]], **vip(addresses[0]))
               for master, name, router_id, addresses in owned]
        if c.nat:
            inside = inside_interface(director.name)
            gateway = lambda address: dict(vip(address), address='%s/%d' % (
                address, c.inside_prefixlen_of(address)))
            first, *others = c.gateways
            out.append(dict(self.role(director, PRIMARY), name='VI_GW', iface=inside,
                            router_id=15, dev=inside, unicast=None,
                            excluded=[gateway(g) for g in others], **gateway(first)))
        return out

    def role(self, director, master):
        """A director's state and priority in the instance whose master is `master`."""
        mine = director.name == master
        # nopreempt only works from state BACKUP: then priority alone elects the master
        return {'state': 'BACKUP' if self.settings.nice_failback or not mine else 'MASTER',
                'priority': 150 if mine else 100}

    def vrrp_iface(self, director):
        """The adverts' interface: the LAN, or the crossover cable when there is one."""
        names = interfaces(director)
        return names[1] if self.config.crossover else names[0]

    def unicast(self, director):
        """With a crossover cable the adverts go over it to the peer (VRRP unicast; the
        socket is bound to the instance's interface), while the instance still tracks
        the LAN link: a pulled LAN cable is a FAULT, and the VIP stays on the LAN."""
        if not self.config.crossover:
            return None
        name, cable = director.name, self.config.crossover_addresses()
        peer = [d for d in cable if d != name][0]
        return {'src': cable[name], 'peer': cable[peer], 'track': interfaces(director)[0]}

    def boot(self, director):
        return self.daemon_steps(*self.daemons(director))
