"""ldirectord: health-checks the real servers and keeps the IPVS table."""
import shlex

from topo.ha.daemons import Daemon, in_namespaces, real_servers
from topo.network.config import FORWARDING, ConfigError

CONFIG = '/etc/ha.d/ldirectord.cf'
LOG = '/var/log/ldirectord.log'
LVS_DIRECTOR = 'resource.d/LVSDirector'


class Ldirectord(Daemon):
    name = 'ldirectord'
    templates = {'ldirectord.cf': CONFIG}
    # a lean heartbeat v1 resource script for ldirectord (start, stop, status)
    scripts = {LVS_DIRECTOR: '/etc/ha.d/' + LVS_DIRECTOR}
    private_dirs = ('/etc/ha.d', '/var/log', '/run')     # pid file /run/ldirectord.<cf>.pid
    logs = (LOG,)
    processes = ('ldirectord', '/usr/sbin/ldirectord')   # a Perl script: comm or argv
    pid_files = ('/run/ldirectord.*.pid',)
    # its HTTP checks of an IPv6 real server load Net::INET6Glue
    needs = (('cmd', 'ldirectord', 'ldirectord'),
             ('file', '/usr/share/perl5/Net/INET6Glue/INET_is_INET6.pm', 'libnet-inet6glue-perl'))
    services = ('ldirectord',)

    def context(self):
        ctx = Daemon.context(self)
        config = ctx.pop('cluster')
        if config.tun_type != 'ipip':
            raise ConfigError('ldirectord knows only IPIP tunnels (its word "ipip"), not '
                              '--tun-type %s: use --stack keepalived for it' % config.tun_type)
        ctx.update(scheduler=config.scheduler,
                   # dual stack: a virtual service per VIP
                   virtual_servers=[{'service': view.service, 'ipv6': view.ipv6,
                                     'real_servers': real_servers(view)}
                                    for view in config.families()],
                   sched_flags=list(config.sched_flags),
                   method=FORWARDING[config.forwarding].ldirectord)
        return ctx

    def start_command(self):
        """Standalone (hot standby), the way heartbeat starts it as a resource: through
        the lean LVSDirector script, which returns once the table has a real server (10 s
        at most). The director then joins its cluster with a table to serve from; and a
        heartbeat started at once beside a starting ldirectord left it, one start in four
        or five under UML, checking every second with every check answered 200 and
        never adding a server (seen with strace and tcpdump, cause not found)."""
        return '%s ldirectord.cf start' % self.scripts[LVS_DIRECTOR]

    def reload(self):
        """ldirectord's own reload (SIGHUP through its pid file): it adds and removes
        real servers to match. Where it is not running (the paper's backup) the
        rendered config is what its next start reads."""
        return self.node.cmd('ldirectord %s reload 2>&1' % CONFIG).strip()

    def self_check(self):
        """ldirectord parses its config for `status`: 3 = parsed fine, not running."""
        code, out = in_namespaces(
            'mount --make-rprivate / && mount -t tmpfs tmpfs /var/log && '
            'mount -t tmpfs tmpfs /run && ldirectord %s status'
            % shlex.quote(self.node.private(CONFIG)), flags=('-m',))
        if code == 3 and 'Error' not in out:
            return None
        return 'ldirectord rejects its configuration (exit %d): %s' % (code, out.strip()[-300:])
