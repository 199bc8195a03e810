"""Linux-HA heartbeat 3 in v1 mode (haresources), as in the paper."""
import shlex

from topo.ha.daemons import Daemon, in_namespaces, interfaces

HEARTBEAT = '/usr/libexec/heartbeat/heartbeat'
LOG = '/var/log/ha-log'


class Heartbeat(Daemon):
    name = 'heartbeat'
    templates = {'ha.cf': '/etc/ha.d/ha.cf', 'haresources': '/etc/ha.d/haresources',
                 'authkeys': '/etc/ha.d/authkeys'}
    secret_files = ('/etc/ha.d/authkeys',)
    # The lean VIP resource script, used by haresources when the stack asks for it
    # (ldirectord's, LVSDirector, comes with that daemon).
    scripts = {'resource.d/VIP': '/etc/ha.d/resource.d/VIP'}
    # pid file /run/heartbeat.pid, node identity in /var/lib/heartbeat (hb_uuid)
    private_dirs = ('/etc/ha.d', '/var/lib/heartbeat', '/var/log', '/run')
    seeds = {'/etc/ha.d': ('ha.cf', 'haresources', 'authkeys', 'ldirectord.cf'),
             '/var/lib/heartbeat': ('hb_*',)}
    run_dirs = ('heartbeat', 'heartbeat/ccm', 'heartbeat/crm', 'heartbeat/dopd',
                'heartbeat/rsctmp', 'crm', 'resource-agents')
    logs = (LOG,)
    processes = ('heartbeat',)
    extra_kill = ("-f 'heartbeat: '",)      # its children, named for their job
    pid_files = ('/run/heartbeat.pid',)
    main_pid_file = '/run/heartbeat.pid'   # SIGTERM: its resources given up, then it exits
    needs = (('file', HEARTBEAT, 'heartbeat'),)
    services = ('heartbeat',)

    @property
    def patches(self):
        return ({'path': '/etc/ha.d/shellfuncs', 'regexp': CLUSTERMSG_FUNCTION,
                 'replace': ATOMIC_CLUSTERMSG},)

    def start_command(self):
        # heartbeat names itself after `uname -n`: give it its own UTS namespace. (It
        # daemonizes itself once its configuration is read.)
        return "unshare -u sh -c 'hostname %s && exec %s' 2>&1" % (self.node.name, HEARTBEAT)

    def start_failed(self, output):
        return output.strip() if 'ERROR' in output else None

    def self_check(self):
        """heartbeat validates ha.cf as it starts ("Configuration validated"): start it
        in throwaway namespaces on the rendered files and read its verdict."""
        q = lambda inside: shlex.quote(self.node.private(inside))
        links = '\n'.join(
            f'ip link add {i} type veth peer name hbcheck{n}\n'
            f'ip addr add 192.0.2.{n + 1}/24 dev {i}   # any address: nothing leaves\n'
            f'ip link set {i} up' for n, i in enumerate(interfaces(self.node)))
        script = f'''
set -e
mount --make-rprivate /
hostname {self.node.name}
{links}
ip link set lo up
mount --bind {q('/etc/ha.d')} /etc/ha.d
mount --bind {q('/run')} /run
mkdir -p /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/rsctmp
chown -R hacluster:haclient /run/heartbeat
mount --bind {q('/var/log')} /var/log
mount --bind {q('/var/lib/heartbeat')} /var/lib/heartbeat
set +e
{HEARTBEAT}
for i in $(seq 100); do grep -q -e 'Configuration validated' -e 'onfiguration error' \
  {LOG} 2>/dev/null && break; sleep 0.1; done
cat {LOG}
'''     # leaving the PID namespace kills whatever heartbeat started
        _, out = in_namespaces(script, flags=('--fork', '--pid', '--mount-proc', '-m', '-n', '-u'))
        if 'Configuration validated' in out:
            return None
        errors = [line for line in out.splitlines() if 'ERROR' in line or 'rror' in line]
        return 'heartbeat rejects its configuration: %s' % (' | '.join(errors[-3:]) or out[-300:])


# The start-up race (1 run in 6-7 under UML: "msg2string: Message with zero
# fields", then "Local Resource acquisition completed." and no resource ever
# started). The resource scripts talk to heartbeat through its FIFO with
# shellfuncs' ha_clustermsg, `(echo ">>>"; cat -; echo "<<<") | cat - >> FIFO`,
# which writes ">>>" on its own; heartbeat reads the FIFO under a 1 s alarm
# (heartbeat.c, setmsalarm(1000L) around msgfromstream), so a slow fork between
# the pieces yields an empty message, which msg2string drops, and the rest is
# skipped: the ip-request-resp that would run ResourceManager is lost. One
# write (atomic on a FIFO below PIPE_BUF) cannot be split.
ATOMIC_CLUSTERMSG = """ha_clustermsg() {
	# one write(2): heartbeat's FIFO reader must never see half a message
	_m=$(cat; echo x); _m=${_m%x}
	printf '>>>\\n%s<<<\\n' "$_m" >> $HA_FIFO
}"""


CLUSTERMSG_FUNCTION = r'ha_clustermsg\(\) \{[\s\S]*?\n\}'
