"""Pacemaker 2: the cluster resource manager over Corosync (the VIP, ldirectord and
the fence devices are its resources, declared in its CIB)."""
import shlex

from topo.ha.daemons import Daemon, in_namespaces

CIB = '/var/lib/pacemaker/cib/cib.xml'
LOG = '/var/log/pacemaker/pacemaker.log'
FENCE_AGENT = '/usr/sbin/fence_hatestbed'


class Pacemaker(Daemon):
    name = 'pacemaker'
    templates = {'cib.xml': CIB}
    secret_files = (CIB,)           # as Pacemaker keeps it: mode 600, its own user's
    owners = {CIB: 'hacluster:haclient'}    # (pacemaker-based rewrites it)
    # the CIB and the scheduler's inputs in /var/lib/pacemaker; libqb's IPC rings in
    # /dev/shm; /run for the resource agents' state and the pid the testbed writes
    private_dirs = ('/var/lib/pacemaker', '/var/log', '/run', '/dev/shm')
    seeds = {'/var/lib/pacemaker': ('cib.xml*', 'cib-*', 'pe-*')}
    run_dirs = ('resource-agents', 'crm')
    log_dirs = {'/var/log/pacemaker': 'hacluster:haclient'}
    logs = (LOG,)
    # their command names (comm, 15 characters): what a crash or a power-off kills
    processes = ('pacemakerd', 'pacemaker-based', 'pacemaker-fence', 'pacemaker-execd',
                 'pacemaker-attrd', 'pacemaker-sched', 'pacemaker-contr')
    # the testbed's fence agent, where Pacemaker's fencer looks for agents
    installs = {'fence_hatestbed': FENCE_AGENT}
    needs = (('cmd', 'pacemakerd', 'pacemaker'), ('cmd', 'crm_mon', 'pacemaker-cli-utils'),
             ('file', '/usr/lib/ocf/resource.d/heartbeat/IPaddr2', 'resource-agents'),
             ('file', FENCE_AGENT, 'pacemaker'),
             # --ping: the fence level that lets only a director that reaches the clients
             # fence, and the ping resource (Pacemaker's own)
             ('file', '/usr/sbin/fence_heuristics_ping', 'fence-agents'),
             ('file', '/usr/lib/ocf/resource.d/pacemaker/ping', 'pacemaker'))
    services = ('pacemaker',)
    # pacemakerd writes none: the shell that becomes it does. SIGTERM: its resources
    # stopped here (and started on the peer), then the node leaves the cluster
    main_pid_file = '/run/pacemakerd.pid'
    pid_files = (main_pid_file,)

    def start_command(self):
        # pacemakerd stays in the foreground and starts its six daemons; stopped by pid,
        # never by Debian's init script (its stop kills every pacemakerd on the kernel)
        return 'setsid -f unshare -u sh -c %s </dev/null >/dev/null 2>&1' % shlex.quote(
            'echo $$ > %s && hostname %s && PCMK_logfile=%s PCMK_stderr=0 exec pacemakerd'
            % (self.main_pid_file, self.node.name, LOG))

    def self_check(self):
        """crm_verify on the rendered CIB, offline: its schema, ids and references. (Its
        warnings are about the cluster's state, which an offline file does not have.)"""
        code, out = in_namespaces('crm_verify --xml-file %s 2>&1'
                                  % shlex.quote(self.node.private(CIB)), flags=('-n',))
        if code == 0 or 'Errors found' not in out:
            return None
        return 'crm_verify rejects the CIB (exit %d): %s' % (code, out.strip()[-400:])
