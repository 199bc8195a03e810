"""Fencing through the testbed's own power: the control side of fence_hatestbed.

A stack that fences (Pacemaker's STONITH) gets a PowerSwitch for the run: a Unix
socket the fence agent (topo/ha/templates/fence_hatestbed, installed as
/usr/sbin/fence_hatestbed) sends its requests to, as Pacemaker's fencer runs it
inside a director. The switch powers the node off or on with the backend's own
primitives (Network.power_off/power_on, the paper's fault) and records each
request as a `fence` event, so a run's timeline shows who was fenced and when.
"""
import json
import shutil
import socket
import threading
import time
from pathlib import Path

class PowerSwitch:
    """The run's power switch for fencing: one request per connection (a JSON line:
    action off|on|reboot|status|monitor, node), one JSON line answered."""

    def __init__(self, network, nodes):
        from topo.kernels import run_id
        self.network, self.nodes = network, list(nodes)
        # /tmp, not /run: a director's /run is its own, and the agent runs inside it
        self.dir = Path('/tmp/hatestbed-fence.%s' % run_id())
        self.path = str(self.dir / 'power.sock')
        self.fenced = []            # [(time, action, node)]
        self.sock = None
        self.thread = None
        self.lock = threading.Lock()

    def start(self):
        self.dir.mkdir(mode=0o700, exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, name='fence-power', daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None
        if self.thread is not None:
            self.thread.join(5)
            self.thread = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return          # closed: the run is over
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        with conn:
            try:
                conn.settimeout(30)
                data = b''
                while not data.endswith(b'\n'):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                answer = self.handle(json.loads(data.decode() or '{}'))
            except Exception as e:      # the agent reports it; the run goes on
                answer = {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
            try:
                conn.sendall((json.dumps(answer) + '\n').encode())
            except OSError:
                pass

    def handle(self, request):
        action, node = request.get('action'), request.get('node')
        if action == 'monitor':
            return {'ok': True}
        if node not in self.nodes:
            return {'ok': False, 'error': 'no node %r on this switch (it has %s)'
                    % (node, ', '.join(self.nodes))}
        if action == 'status':
            return {'ok': True, 'state': 'off' if node in self.network.fenced_off else 'on'}
        if action not in ('off', 'on', 'reboot'):
            return {'ok': False, 'error': 'unknown action %r' % action}
        # one fence at a time: the two directors' fencers may race (that is the point)
        with self.lock:
            t = time.time()
            if action in ('off', 'reboot'):
                self.power(node, False)
            if action in ('on', 'reboot'):
                self.power(node, True)
            self.fenced.append((t, action, node))
            self.note(node, 'fence', t, action=action)
        return {'ok': True, 'state': 'off' if node in self.network.fenced_off else 'on'}

    def power(self, node, on):
        """The backend's power, its links recorded as a fault's are."""
        def links(up, lan_only=False):
            return self.note(node, 'link', self.network[node].set_links(up, lan_only), up=up)
        if on:
            self.network.power_on(node, links)
            self.network.fenced_off.discard(node)
        else:
            self.network.power_off(node, links)
            self.network.fenced_off.add(node)

    def note(self, node, kind, t, **fields):
        if self.network.recorder:
            self.network.recorder.note(node, kind, t=t, **fields)
        return t

