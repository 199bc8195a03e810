"""Open vSwitch daemons: use the system's when they run, else run private ones.

Inside UML (and on hosts without an init system) nothing starts OVS, so the
testbed starts ovsdb-server and ovs-vswitchd itself, with a database in its
own work directory, and stops exactly those at the end.
"""
import os
import subprocess
import time
from pathlib import Path

SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
RUN_DIR = Path('/var/run/openvswitch')
DB_SOCK = RUN_DIR / 'db.sock'


def run(*cmd, check=True):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if check and p.returncode:
        raise RuntimeError('%s failed: %s' % (' '.join(cmd), p.stdout.strip()))
    return p


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
        pid = self.workdir / 'ovs-vswitchd.pid'
        run('ovs-vswitchd', 'unix:%s' % DB_SOCK, '--pidfile=%s' % pid, '--detach',
             '--log-file=%s' % (self.workdir / 'ovs-vswitchd.log'))
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
