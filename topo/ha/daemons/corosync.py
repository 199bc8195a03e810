"""Corosync 3 (knet): the membership and messaging layer under Pacemaker."""
import shlex

from topo.ha.daemons import Daemon, in_namespaces

CONFIG = '/etc/corosync/corosync.conf'
AUTHKEY = '/etc/corosync/authkey'
LOG = '/var/log/corosync/corosync.log'


class Corosync(Daemon):
    name = 'corosync'
    templates = {'corosync.conf': CONFIG, 'corosync-authkey': AUTHKEY}
    secret_files = (AUTHKEY,)
    # its ring state in /var/lib/corosync; libqb's IPC rings in /dev/shm (two nodes
    # on one kernel would meet there, and a stale ring is a known start-up failure)
    private_dirs = ('/etc/corosync', '/var/lib/corosync', '/var/log', '/run', '/dev/shm')
    log_dirs = {'/var/log/corosync': 'root'}
    # a ring left by a killed corosync stops the next start
    fresh = ('/dev/shm/qb-*',)
    logs = (LOG,)
    processes = ('corosync',)
    needs = (('cmd', 'corosync', 'corosync'),)
    services = ('corosync',)

    def boot_command(self):
        # /dev/shm open to all, as it is on a machine: Pacemaker's daemons, running as
        # hacluster, make their rings there (the emulation's private one starts 755)
        return Daemon.boot_command(self) + ' ; chmod 1777 /dev/shm'

    def start_command(self):
        # in the foreground of a session of its own: stopped by its pid (a power-off, a
        # crash), never by an init script that would stop every node's corosync
        return 'setsid -f unshare -u sh -c %s </dev/null >/dev/null 2>&1' % shlex.quote(
            'hostname %s && exec corosync -f -c %s' % (self.node.name, CONFIG))

    def self_check(self):
        """`corosync -t` on the rendered files, in throwaway namespaces where the node has
        its ring addresses (it looks itself up in the nodelist by them)."""
        [me] = [n for n in self.options['nodes'] if n['name'] == self.node.name]
        links = '\n'.join(f'ip link add cs{i} type veth peer name cscheck{i}\n'
                          f'ip addr add {a}/32 dev cs{i} && ip link set cs{i} up'
                          for i, a in enumerate(me['addresses']))
        script = f'''
set -e
mount --make-rprivate /
mount --bind {shlex.quote(self.node.private('/etc/corosync'))} /etc/corosync
mount -t tmpfs tmpfs /var/log && mkdir /var/log/corosync
mount -t tmpfs tmpfs /dev/shm
{links}
set +e
corosync -t -c {CONFIG}
code=$?
tail -3 {LOG}
exit $code
'''
        code, out = in_namespaces(script, flags=('-m', '-n'))
        return None if code == 0 else \
            'corosync -t rejects its configuration (exit %d): %s' % (code, out.strip()[-300:])
