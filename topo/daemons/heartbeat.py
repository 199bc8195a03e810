"""Linux-HA heartbeat 3 in v1 mode (haresources), as in the paper."""
from topo.daemons import Daemon

HEARTBEAT = '/usr/libexec/heartbeat/heartbeat'


class Heartbeat(Daemon):
    templates = {'ha.cf': '/etc/ha.d/ha.cf', 'haresources': '/etc/ha.d/haresources',
                 'authkeys': '/etc/ha.d/authkeys'}
    secret_files = ('/etc/ha.d/authkeys',)
    # Lean resource scripts, used by haresources when the stack asks for them.
    scripts = {'resource.d/VIP': '/etc/ha.d/resource.d/VIP',
               'resource.d/LVSDirector': '/etc/ha.d/resource.d/LVSDirector'}

    def start(self):
        # heartbeat names itself after `uname -n`: give it its own UTS namespace.
        out = self.node.cmd('unshare -u sh -c "hostname %s && exec %s" 2>&1'
                            % (self.node.name, HEARTBEAT))
        if 'ERROR' in out:
            raise RuntimeError('%s: heartbeat did not start: %s' % (self.node.name, out.strip()))

    def stop(self):
        self.node.cmd('unshare -u sh -c "hostname %s && exec %s -k" >/dev/null 2>&1'
                      % (self.node.name, HEARTBEAT))
