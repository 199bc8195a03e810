"""Open vSwitch daemons: use the system's when they run, else run private ones.

Inside UML (and on hosts without an init system) nothing starts OVS, so the
testbed starts ovsdb-server and ovs-vswitchd itself, with a database in its
own work directory, and stops exactly those at the end.
"""
import os
import subprocess
import time
from pathlib import Path

# Open vSwitch 3.1 (Debian 12) counts the machine's CPU cores at most every 10 s of its
# monotonic clock, and counts 0 before the first 10 s have passed; with a datapath that
# dispatches upcalls per CPU (every recent kernel's), ovs-vswitchd then starts with no
# upcall handler ("Overriding n-handler-threads to 0"), and every packet that misses the
# datapath's flow cache is lost: nothing crosses the hub, and a later reconfiguration
# does not bring it back (measured in UML 7.2: still 100 % lost after the log said
# "... to 1"). A UML kernel's clock starts at its boot, so a cluster it starts at once
# hits that. ovs-vswitchd is started there in a time namespace whose monotonic clock is
# ahead by CLOCK_AHEAD_S: it forwards from its first packet, and nothing waits.
CORE_COUNT_AFTER_S = 10.0
CLOCK_AHEAD_S = 60
# ... but the kernel stamps a datapath flow's last use on its own monotonic clock, which
# ovs-vswitchd then reads CLOCK_AHEAD_S in the past: every flow looked idle for a minute,
# past its 10 s max-idle, and each revalidator round (twice a second) deleted them all.
# Every packet after a deletion missed the flow cache and went up to the one upcall
# handler; at 5,000 clients the handler's queue overflowed (UML 7.2: 60,000 packets
# lost, 12,000 SYNs sent again; 120,000 misses against 18 with this). So its max-idle
# counts the clock's lead on top of Open vSwitch's default.
MAX_IDLE_MS = 10000
# set to 1: ovs-vswitchd on the kernel's own clock, whatever it says: Open vSwitch's dead
# hub reproduced (a test proves a run on it fails loudly)
OWN_CLOCK_ENV = 'HATESTBED_OVS_OWN_CLOCK'

SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
RUN_DIR = Path('/var/run/openvswitch')
DB_SOCK = RUN_DIR / 'db.sock'


def run(*cmd, check=True):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if check and p.returncode:
        raise RuntimeError('%s failed: %s' % (' '.join(cmd), p.stdout.strip()))
    return p


def clock_ahead(margin_s=0.5):
    """The command prefix that starts ovs-vswitchd with a monotonic clock past
    CORE_COUNT_AFTER_S ([] when the machine's is, as on any host up for a while). A
    kernel without time namespaces waits until its clock gets there."""
    if time.clock_gettime(time.CLOCK_MONOTONIC) >= CORE_COUNT_AFTER_S + margin_s \
            or os.environ.get(OWN_CLOCK_ENV) == '1':
        return []
    if os.path.exists('/proc/self/ns/time'):
        return ['unshare', '--time', '--monotonic', str(CLOCK_AHEAD_S), '--fork']
    time.sleep(CORE_COUNT_AFTER_S + margin_s - time.clock_gettime(time.CLOCK_MONOTONIC))
    return []


class OVSDaemons:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.started = []   # pid files of the daemons this object started

    def running(self):
        return run('ovs-vsctl', '--timeout=3', 'show', check=False).returncode == 0

    def start(self):
        if self.running():
            return False
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        db = self.workdir / 'ovs-conf.db'
        run('ovsdb-tool', 'create', str(db), SCHEMA)
        pid = self.workdir / 'ovsdb-server.pid'
        run('ovsdb-server', str(db), '--remote=punix:%s' % DB_SOCK, '--pidfile=%s' % pid,
             '--detach', '--log-file=%s' % (self.workdir / 'ovsdb-server.log'))
        self.started.append(pid)
        run('ovs-vsctl', '--no-wait', 'init')
        ahead = clock_ahead()
        if ahead:
            run('ovs-vsctl', '--no-wait', 'set', 'Open_vSwitch', '.',
                'other_config:max-idle=%d' % (CLOCK_AHEAD_S * 1000 + MAX_IDLE_MS))
        pid = self.workdir / 'ovs-vswitchd.pid'
        run(*ahead, 'ovs-vswitchd', 'unix:%s' % DB_SOCK, '--pidfile=%s' % pid,
            '--detach', '--log-file=%s' % (self.workdir / 'ovs-vswitchd.log'))
        self.started.append(pid)
        return True

    def stop(self):
        for pidfile in reversed(self.started):
            try:
                pid = int(pidfile.read_text())
                os.kill(pid, 15)
                for _ in range(50):
                    os.kill(pid, 0)
                    time.sleep(0.1)
                os.kill(pid, 9)
            except (OSError, ValueError):
                pass
        self.started = []
