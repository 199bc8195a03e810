"""The hub's controller: the os-ken app in controllers/hub.py as a Mininet controller."""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from mininet.node import Controller

from controllers import READY_MARK

HUB_APP = Path(__file__).resolve().parents[3] / "controllers" / "hub.py"


def controller_command():
    """os-ken's manager (Debian's python3-os-ken), or Ryu's if that is what is installed."""
    for cmd in ('osken-manager', 'ryu-manager'):
        path = shutil.which(cmd)
        if path:
            return path
    return None


def free_port(preferred=6653):
    for port in [preferred] + list(range(16653, 16753)):
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
                return port
            except OSError:
                continue
    raise RuntimeError('no free TCP port for the OpenFlow controller')


class HubController(Controller):
    """Runs the hub app on 127.0.0.1 (root namespace), knows when the flood flow is
    in, and speaks to the app's control interface (partition, heal)."""

    def __init__(self, name, log_file, control_socket=None, **params):
        self.log_file = str(log_file)
        self.control_socket = str(control_socket) if control_socket else None
        self.proc = None
        Controller.__init__(self, name, ip='127.0.0.1', port=free_port(),
                            command=controller_command(), **params)
        self.start()    # now: its slow start-up overlaps Mininet building the hosts

    def checkListening(self):
        pass        # free_port() already picked a port nobody listens on

    def start(self):
        if self.proc and self.proc.poll() is None:
            return
        self.log = open(self.log_file, 'w')
        self.proc = subprocess.Popen(
            [self.command, '--ofp-listen-host', '127.0.0.1', '--ofp-tcp-listen-port',
             str(self.port), str(HUB_APP)], stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True, env=dict(os.environ, PYTHONPATH=str(HUB_APP.parent.parent),
                                             **({'HUB_CONTROL': self.control_socket}
                                                if self.control_socket else {})))

    def wait_flow(self, timeout=60):
        """Wait until the app has installed its flood flow (OVS is fail-secure until then)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if READY_MARK in Path(self.log_file).read_text(errors='replace'):
                return time.monotonic()
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        tail = Path(self.log_file).read_text(errors='replace')[-800:]
        raise RuntimeError('the hub controller did not install its flow within %ds; its log:\n%s'
                           % (timeout, tail))

    def control(self, **command):
        """Send one command to the hub app; raises with its reason if it refuses."""
        import json
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(self.control_socket)
            f = s.makefile('rw')
            f.write(json.dumps(command) + '\n')
            f.flush()
            answer = json.loads(f.readline() or '{"ok": false, "error": "no answer"}')
        if not answer.get('ok'):
            raise RuntimeError('hub controller refused %s: %s' % (command, answer.get('error')))

    def stop(self, *args, **kwargs):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None
        Controller.stop(self, *args, **kwargs)
