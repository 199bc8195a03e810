"""The modern stack: keepalived's VRRP moves the VIP and its health checker
keeps an IPVS table on both directors (the backup's table is warm)."""
import secrets

from topo.config import PRIMARY, ConfigError
from topo.daemons.keepalived import LOG, Keepalived
from topo.stacks import HAStack, register


@register
class KeepalivedStack(HAStack):
    name = 'keepalived'
    description = 'keepalived (VRRP for the VIP, its checker keeps IPVS on both directors)'
    backup_table_warm = True
    detected_pattern = r'Entering MASTER STATE'
    rejoined_pattern = r'Entering BACKUP STATE'
    needs = [('cmd', 'keepalived', 'keepalived')]

    @classmethod
    def add_arguments(cls, parser):
        g = parser.add_argument_group('keepalived')
        g.add_argument('--advert-int', type=float, default=0.2, metavar='S',
                       help='VRRP advertisement interval; below 1 s needs VRRPv3, which has '
                            'no authentication (v2 with a per-run password otherwise)')

    @classmethod
    def check_arguments(cls, a):
        if not 0.01 <= a.advert_int <= 255:
            raise ConfigError('--advert-int %.3gs: VRRP allows 0.01 to 255 s' % a.advert_int)
        if a.advert_int >= 1 and a.advert_int != int(a.advert_int):
            raise ConfigError('--advert-int %.3gs: above 1 s VRRP counts whole seconds'
                              % a.advert_int)

    def __init__(self, config, args):
        HAStack.__init__(self, config, args)
        self.v3 = args.advert_int < 1
        self.secret = None if self.v3 else secrets.token_hex(4)  # VRRPv2 PASS: 8 characters

    def parameters(self):
        return dict(HAStack.parameters(self), advert_int_s=self.args.advert_int,
                    vrrp_version=3 if self.v3 else 2,
                    authentication='none (VRRPv3 has none)' if self.v3 else 'PASS, per run',
                    preempt=not self.args.nice_failback)

    def detection_setting(self):
        return 'advert_int_s', self.args.advert_int

    def daemon(self, director):
        primary = director.name == PRIMARY
        nice = self.args.nice_failback
        auth = '' if self.v3 else ('    authentication {\n        auth_type PASS\n'
                                   '        auth_pass %s\n    }\n' % self.secret)
        return Keepalived(
            director, cluster=self.config, check_interval=self.args.check_interval,
            check_timeout=self.args.check_timeout, advert_int=self.args.advert_int,
            vrrp_version=3 if self.v3 else 2, router_id=14,
            # nopreempt only works from state BACKUP: then priority alone elects laicoz
            state='BACKUP' if nice or not primary else 'MASTER',
            priority=150 if primary else 100,
            preempt='    nopreempt\n' if nice else '', authentication=auth)

    def configure(self, director):
        return self.daemon(director).render()

    def start(self, director):
        director.fresh_run()
        self.daemon(director).start()

    def logs(self, director):
        return [LOG]
