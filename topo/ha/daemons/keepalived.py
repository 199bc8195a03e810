"""keepalived: VRRP for the VIP and its own health checker driving IPVS."""
import shlex

from topo.ha.daemons import Daemon, in_namespaces, real_servers
from topo.network.webserver import HEALTH_PATH

CONFIG = '/etc/keepalived/keepalived.conf'
LOG = '/var/log/keepalived.log'


class Keepalived(Daemon):
    name = 'keepalived'
    templates = {'keepalived.conf': CONFIG}
    secret_files = (CONFIG,)            # it holds the VRRP password when there is one
    private_dirs = ('/etc/keepalived', '/var/log', '/run')
    logs = (LOG,)
    processes = ('keepalived',)
    pid_files = ('/run/keepalived*.pid',)
    main_pid_file = '/run/keepalived.pid'  # SIGTERM: priority-0 adverts, the VIP let go
    needs = (('cmd', 'keepalived', 'keepalived'),)
    services = ('keepalived',)

    def context(self):
        ctx = Daemon.context(self)
        config = ctx.pop('cluster')
        ctx.update(service_port=config.port, scheduler=config.scheduler,
                   sched_flags=list(config.sched_flags),
                   lvs_method=config.keepalived_method(), health_path=HEALTH_PATH,
                   # dual stack: a virtual server per VIP
                   virtual_servers=[{'vip': view.vip, 'real_servers': real_servers(view)}
                                    for view in config.families()])
        return ctx

    def start_command(self):
        # Two keepalived on one filesystem: private pid files (/run is private per
        # director); no syslog needed, so the log goes to a file of the director.
        return ('setsid -f keepalived -n -l -D -G -f %s -p /run/keepalived.pid '
                '-r /run/keepalived-vrrp.pid -c /run/keepalived-checkers.pid '
                '</dev/null >%s 2>&1' % (CONFIG, LOG))

    def reload(self):
        """keepalived reloads on SIGHUP: VRRP state kept, the checkers and the IPVS
        service brought to the new configuration."""
        return self.node.cmd('kill -HUP $(cat /run/keepalived.pid) 2>&1').strip()

    def self_check(self):
        """`keepalived -t`, in a namespace that has the director's interface."""
        links = ' && '.join('ip link add %s type veth peer name kacheck%d && ip link set %s up'
                            % (i, n, i) for n, i in enumerate(self.node.interfaces()))
        code, out = in_namespaces('%s && keepalived -t -f %s'
                                  % (links, shlex.quote(self.node.private(CONFIG))),
                                  flags=('-n',))
        return None if code == 0 else \
            'keepalived -t rejects its configuration (exit %d): %s' % (code, out.strip()[-300:])
