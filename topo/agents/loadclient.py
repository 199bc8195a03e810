"""Long-lived TCP connections from the client host to the virtual IP.

Each connection is opened and sent an HTTP/1.0 request *without* the blank
line that ends it: the real server's handler waits for the rest, so the
connection stays ESTABLISHED (an ActiveConn in `ipvsadm -L`) for as long as
the client holds it, like the paper's TELNET session. On release the client
sends the blank line, reads the answer and learns from its X-Served-By header
which real server IPVS had given the connection.

  python3 -m topo.agents.loadclient --host 10.0.14.146 --count 18 --hold 30
      open 18 connections, hold them 30 s, release; one JSON line per event

  python3 -m topo.agents.loadclient --host 10.0.14.146 --control --hold 300
      commands on stdin, one a line: `open N` (open N more, in a new batch),
      `release` (answer, close and exit); end of input releases too, and so
      does --hold seconds without a release.

Output, events as in topo/agents/events.py: "opened" after each batch,
"released" (with conns, counts, by_batch) at the end.
"""
import argparse
import os
import select
import socket
import sys
import time

from topo.agents.events import emit
from topo.network.webserver import SERVED_BY


class Held:
    """One held connection: opened with a partial request, answered on release."""

    def __init__(self, index, batch, host, port, timeout, path='/'):
        self.index, self.batch = index, batch
        self.server = self.error = None
        self.sock = None
        self.local_port = None
        self.request_head = ('GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: hatestbed-loadclient\r\n'
                             % (path, host)).encode()
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
            self.sock.sendall(self.request_head)        # no final blank line: the server waits
            self.local_port = self.sock.getsockname()[1]
        except OSError as e:
            self.error = '%s: %s' % (type(e).__name__, e)
            self.close()

    @property
    def ok(self):
        return self.sock is not None or self.server is not None

    def release(self, timeout):
        if self.sock is None:
            return
        try:
            self.sock.settimeout(timeout)
            self.sock.sendall(b'\r\n')
            data = b''
            while True:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.server = served_by(data)
            if self.server is None:
                self.error = 'no %s header in %r' % (SERVED_BY, data[:80])
        except OSError as e:
            self.error = '%s: %s' % (type(e).__name__, e)
        finally:
            self.close()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def as_dict(self):
        d = {'i': self.index, 'batch': self.batch, 'port': self.local_port}
        d.update({'server': self.server} if self.server else {'error': self.error})
        return d


def served_by(response):
    """The X-Served-By header of a raw HTTP response, or None."""
    head = response.split(b'\r\n\r\n', 1)[0].decode('latin-1')
    lines = head.split('\r\n')
    if not lines or not lines[0].startswith('HTTP/') or ' 200 ' not in lines[0] + ' ':
        return None
    for line in lines[1:]:
        name, _, value = line.partition(':')
        if name.strip().lower() == SERVED_BY.lower():
            return value.strip()
    return None


class LoadClient:
    def __init__(self, host, port, timeout=10.0, gap=0.02):
        self.host, self.port, self.timeout, self.gap = host, port, timeout, gap
        self.conns = []
        self.batches = 0

    def open(self, count):
        batch, start = self.batches, len(self.conns)
        self.batches += 1
        t0 = time.monotonic()
        for _ in range(count):
            self.conns.append(Held(len(self.conns), batch, self.host, self.port, self.timeout))
            if self.gap:
                time.sleep(self.gap)    # the director sees each handshake end before the next SYN
        new = self.conns[start:]
        emit('opened', batch=batch, count=count, ok=sum(c.ok for c in new),
             failed=[c.as_dict() for c in new if not c.ok],
             held=sum(c.sock is not None for c in self.conns),
             ports=[c.local_port for c in new], seconds=round(time.monotonic() - t0, 3))

    def release(self, reason):
        t0 = time.monotonic()
        for c in self.conns:
            c.release(self.timeout)
        counts, by_batch = {}, [{} for _ in range(self.batches)]
        for c in self.conns:
            key = c.server or 'failed'
            counts[key] = counts.get(key, 0) + 1
            by_batch[c.batch][key] = by_batch[c.batch].get(key, 0) + 1
        emit('released', reason=reason, conns=[c.as_dict() for c in self.conns],
             counts=counts, by_batch=by_batch, seconds=round(time.monotonic() - t0, 3))


def control_loop(client, hold, fd=None):
    """Obey `open N` / `release` lines until release, end of input or hold seconds.

    Reads the raw descriptor (not a buffered file), so select() never misses
    a line that arrived together with the previous one.
    """
    fd = sys.stdin.fileno() if fd is None else fd
    end = time.monotonic() + hold
    pending = b''
    while True:
        while b'\n' not in pending:
            left = end - time.monotonic()
            if left <= 0:
                return 'hold timeout'
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return 'hold timeout'
            chunk = os.read(fd, 4096)
            if not chunk:
                if not pending.strip():
                    return 'end of input'
                pending += b'\n'
            pending += chunk
        line, pending = pending.split(b'\n', 1)
        words = line.decode(errors='replace').split()
        if not words:
            continue
        if words[0] == 'open' and len(words) == 2 and words[1].isdigit():
            client.open(int(words[1]))
        elif words[0] == 'release':
            return 'release'
        else:
            emit('error', error='unknown command %r' % line.decode(errors='replace'))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--host', required=True, help='address to connect to (the VIP)')
    p.add_argument('--port', type=int, default=80)
    p.add_argument('--count', type=int, default=0, help='connections opened at start')
    p.add_argument('--hold', type=float, default=30.0,
                   help='seconds to hold them (with --control: at most this long)')
    p.add_argument('--control', action='store_true', help='take open/release commands on stdin')
    p.add_argument('--gap', type=float, default=0.02, help='seconds between two opens')
    p.add_argument('--timeout', type=float, default=10.0, help='connect and answer timeout')
    a = p.parse_args(argv)
    client = LoadClient(a.host, a.port, a.timeout, a.gap)
    if a.count:
        client.open(a.count)
    if a.control:
        reason = control_loop(client, a.hold)
    else:
        time.sleep(a.hold)
        reason = 'held %gs' % a.hold
    client.release(reason)
    return 0


if __name__ == '__main__':
    sys.exit(main())
