"""One SSH connection per machine, multiplexed (OpenSSH's ControlMaster, as Mininet's
cluster edition does): the master is opened once, and every command, agent and file
after it rides on it without a new handshake."""
import os
import shlex
import subprocess
import time

from topo.analysis import clocks

CONNECT_S = 10


class Connection:
    def __init__(self, machine, control_dir, key=None, extra_args=''):
        self.machine = machine
        self.control_path = str(control_dir / ('%s.sock' % machine.name))
        self.args = ['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=%d' % CONNECT_S,
                     '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3',
                     '-o', 'ControlPath=%s' % self.control_path, '-p', str(machine.port),
                     '-l', machine.user]
        if key:
            self.args += ['-i', key]
        self.args += shlex.split(extra_args or '')
        self.master = None

    def open(self):
        """The master connection; RuntimeError naming the machine when it is unreachable."""
        self.master = subprocess.Popen(
            self.args + ['-N', '-o', 'ControlMaster=yes', '-o', 'ControlPersist=no',
                         self.machine.ssh], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        # the master makes its socket once it is in: wait for that (no process per poll)
        end = time.monotonic() + CONNECT_S + 5
        while not os.path.exists(self.control_path) and time.monotonic() < end:
            if self.master.poll() is not None:
                raise RuntimeError('%s (%s@%s) is unreachable over SSH: %s' % (
                    self.machine.name, self.machine.user, self.machine.ssh,
                    self.master.stderr.read().decode(errors='replace').strip()))
            time.sleep(0.05)
        p = self.run('true', timeout=CONNECT_S + 5)
        if p.returncode != 0:
            self.close()
            raise RuntimeError('%s (%s): no SSH answer: %s'
                               % (self.machine.name, self.machine.ssh, p.stdout.strip()))
        return self

    def close(self):
        if self.master and self.master.poll() is None:
            self.master.terminate()
            try:
                self.master.wait(10)
            except subprocess.TimeoutExpired:
                self.master.kill()
        self.master = None

    def forward_socket(self, remote, local):
        """The machine's Unix socket `remote` served by this node's `local` (OpenSSH's
        remote forwarding on the master; it ends with the connection). A socket left at
        that path by an earlier run is removed first: sshd does not replace it."""
        self.run('mkdir -p -m 700 %s && rm -f %s' % (shlex.quote(os.path.dirname(remote)),
                                                    shlex.quote(remote)))
        p = subprocess.run(self.args + ['-O', 'forward', '-R', '%s:%s' % (remote, local),
                                        self.machine.ssh], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise RuntimeError('%s: cannot forward %s over SSH: %s'
                               % (self.machine.name, remote, p.stdout.strip()))

    def command(self, remote):
        """The local argv that runs a shell command on the machine."""
        return self.args + [self.machine.ssh, '--', remote]

    def run(self, remote, timeout=120):
        """The command's CompletedProcess (its output with its errors; a command may exit
        255 as ssh itself does: ipvsadm does)."""
        return subprocess.run(self.command(remote), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def popen(self, remote, **kwargs):
        kwargs.setdefault('stdin', subprocess.DEVNULL)
        return subprocess.Popen(self.command(remote), **kwargs)

    def clock_offset(self, exchanges=8):
        """The machine's clock minus this one's (topo/analysis/clocks.py), asked over one
        process on the machine that answers each line with its time: the round trip has
        no process start in it."""
        proc = self.popen('exec python3 -u -c "import sys, time\nfor _ in sys.stdin: '
                          'print(repr(time.time()), flush=True)"',
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          universal_newlines=True)
        try:
            def ask():
                proc.stdin.write('\n')
                proc.stdin.flush()
                return float(proc.stdout.readline())
            ask()               # the interpreter's start is not part of any exchange
            return clocks.measure(ask, exchanges)
        finally:
            proc.stdin.close()
            proc.wait(10)
