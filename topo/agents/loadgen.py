"""Sustained HTTP load from the client host, one process, one thread, non-blocking
sockets: for runs with a fault in the middle.

h2load (the ramp's generator) is not used across a fault: its clients stop at
their first connection error, and the requests they would have sent are not
counted (measured: nginx killed for 1.5 s in a 6 s `h2load -D` run: no request
after the kill, "0 failed"). Here every client carries on, so each second says
how many requests succeeded and failed while the cluster failed over.

  requests mode (default): each of --clients sends one request per connection
      (Connection: close, so IPVS schedules every request), then the next at once.
  sessions mode (--keepalive): each client keeps one HTTP/1.1 connection and sends
      a request on it every --interval seconds; a connection that breaks (reset,
      closed, timed out) is counted and replaced. The question is how many of the
      first connections live through a director failover (IPVS connection sync).

Output, events as in topo/agents/events.py: 'ready' once every client started,
'load' each second (ok, failed by kind, latency percentiles, in flight),
'done' at the end (totals, sessions survived, this process's CPU seconds).
"""
import argparse
import errno
import heapq
import itertools
import resource
import selectors
import signal
import socket
import sys
import time
from urllib.parse import urlsplit

from topo.agents.events import emit
from topo.stats import percentile


def error_kind(err):
    if err in (errno.ECONNRESET, errno.EPIPE):
        return 'reset'
    if err == errno.ECONNREFUSED:
        return 'refused'
    if err in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return 'unreachable'
    return errno.errorcode.get(err, str(err)).lower()


class Client:
    """One simulated user: a connection, the request in progress, its deadline."""

    def __init__(self, gen, index):
        self.gen, self.index = gen, index
        self.sock = None
        self.session = 0            # sessions mode: how many connections this user opened
        self.first_alive = True     # sessions mode: its first connection never broke
        self.last_ok = None         # wall time of its last answer
        self.token = 0              # invalidates timers set before the last state change

    # -- connection --
    def connect(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.connected = False
        self.session += 1
        err = self.sock.connect_ex(self.gen.address)
        if err not in (0, errno.EINPROGRESS):
            return self.fail(error_kind(err))
        self.gen.sel.register(self.sock, selectors.EVENT_WRITE, self)
        self.begin()

    def close(self):
        if self.sock is not None:
            try:
                self.gen.sel.unregister(self.sock)
            except (KeyError, ValueError):
                pass
            self.sock.close()
            self.sock = None

    # -- one request --
    def begin(self):
        self.start = time.monotonic()
        self.data = b''
        self.sent = False
        self.token += 1
        self.gen.timer(self.start + self.gen.timeout, self, self.token, 'timeout')
        if self.connected:
            self.send()

    def send(self):
        try:
            self.sock.send(self.gen.request)
        except OSError as e:
            return self.fail(error_kind(e.errno))
        self.sent = True
        self.gen.sel.modify(self.sock, selectors.EVENT_READ, self)

    def on_event(self):
        if not self.connected:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return self.fail(error_kind(err))
            self.connected = True
            return self.send()
        try:
            chunk = self.sock.recv(65536)
        except OSError as e:
            return self.fail(error_kind(e.errno))
        if not chunk:
            if self.gen.keepalive or not self.data:
                return self.fail('closed')      # the server (or a director's RST path) hung up
            return self.answered()
        self.data += chunk
        if self.gen.keepalive and self.complete():
            self.answered()

    def complete(self):
        head, sep, body = self.data.partition(b'\r\n\r\n')
        if not sep:
            return False
        for line in head.split(b'\r\n')[1:]:
            name, _, value = line.partition(b':')
            if name.strip().lower() == b'content-length':
                return len(body) >= int(value)
        return False

    def answered(self):
        status = self.data[9:12]
        latency = time.monotonic() - self.start
        self.token += 1
        if status == b'200':
            self.gen.count_ok(latency)
            self.last_ok = time.time()
        else:
            return self.fail('http-%s' % status.decode('latin-1') if status else 'bad-response')
        if self.gen.keepalive:
            self.data = b''         # while idle, still read: a reset is noticed at once
            self.gen.timer(self.start + self.gen.interval, self, self.token, 'next')
        else:
            self.close()
            self.next()

    def fail(self, kind):
        self.token += 1
        self.gen.count_failed(kind, self)
        if self.gen.keepalive:
            self.first_alive = False
        self.close()
        # a pause before trying again: a refused connection must not spin the CPU
        self.gen.timer(time.monotonic() + self.gen.retry, self, self.token, 'reconnect')

    def next(self):
        if self.gen.stopping:
            return
        self.connect()

    def on_timer(self, what):
        if self.gen.stopping and what != 'timeout':
            return
        if what == 'timeout':
            self.fail('timeout')
        elif what == 'next':
            if self.sock is None:
                self.connect()
            else:
                self.begin()
        elif what == 'reconnect':
            self.connect()


class LoadGenerator:
    def __init__(self, url, clients, keepalive=False, interval=0.2, timeout=5.0, retry=0.1):
        u = urlsplit(url)
        self.address = (u.hostname, u.port or 80)
        self.keepalive, self.interval, self.timeout, self.retry = keepalive, interval, timeout, retry
        self.request = ('GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hatestbed-loadgen\r\n%s\r\n'
                        % (u.path or '/', u.netloc,
                           '' if keepalive else 'Connection: close\r\n')).encode()
        self.sel = selectors.DefaultSelector()
        self.timers = []
        self.seq = itertools.count()
        self.clients = [Client(self, i) for i in range(clients)]
        self.stopping = False
        self.total_ok = 0
        self.total_failed = {}
        self.reset_second()

    def timer(self, at, client, token, what):
        heapq.heappush(self.timers, (at, next(self.seq), client, token, what))

    def reset_second(self):
        self.sec_ok, self.sec_failed, self.sec_latency = 0, {}, []

    def count_ok(self, latency):
        self.sec_ok += 1
        self.total_ok += 1
        self.sec_latency.append(latency)

    def count_failed(self, kind, client):
        self.sec_failed[kind] = self.sec_failed.get(kind, 0) + 1
        self.total_failed[kind] = self.total_failed.get(kind, 0) + 1

    def report(self, t):
        lat = sorted(self.sec_latency)
        emit('load', t=round(t, 3), ok=self.sec_ok, failed=self.sec_failed,
             p50_s=_r(percentile(lat, 50)), p99_s=_r(percentile(lat, 99)),
             max_s=_r(lat[-1] if lat else None),
             open=sum(1 for c in self.clients if c.sock is not None))
        self.reset_second()

    def run(self, duration, ramp=1.0):
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        t_start = time.monotonic()
        for c in self.clients:          # spread the connects over the ramp
            self.timer(t_start + ramp * c.index / max(1, len(self.clients)), c, c.token, 'next')
        next_report = t_start + 1.0
        wall_next = time.time() - (time.monotonic() - next_report)
        end = t_start + duration if duration else float('inf')
        cpu0 = _cpu()
        ready = False
        while not stop and time.monotonic() < end:
            now = time.monotonic()
            wake = min(next_report, end, self.timers[0][0] if self.timers else next_report)
            for key, _ in self.sel.select(max(0.0, wake - now)):
                key.data.on_event()
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, client, token, what = heapq.heappop(self.timers)
                if token == client.token:
                    client.on_timer(what)
            if not ready and now >= t_start + ramp:
                ready = True
                emit('ready', clients=len(self.clients))
            if now >= next_report:
                self.report(wall_next - 1.0)
                next_report += 1.0
                wall_next += 1.0
        self.stopping = True
        elapsed = time.monotonic() - t_start
        sessions = {}
        if self.keepalive:
            # the experiment decides which of the unbroken first connections carried on
            # through its fault: those answered after it
            sessions = {'sessions': len(self.clients),
                        'unbroken': sum(1 for c in self.clients if c.first_alive),
                        'unbroken_last_ok': [round(c.last_ok or 0, 2) for c in self.clients
                                             if c.first_alive],
                        'reconnects': sum(c.session - 1 for c in self.clients)}
        for c in self.clients:
            c.close()
        emit('done', ok=self.total_ok, failed=self.total_failed, elapsed_s=round(elapsed, 2),
             cpu_s=round(_cpu() - cpu0, 2), **sessions)


def _r(v):
    return None if v is None else round(v, 4)


def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--url', required=True)
    p.add_argument('--clients', type=int, default=1000, help='simultaneous clients')
    p.add_argument('--duration', type=float, default=0,
                   help='seconds (0: until SIGTERM)')
    p.add_argument('--keepalive', action='store_true',
                   help='sessions mode: one long-lived connection per client')
    p.add_argument('--interval', type=float, default=0.2,
                   help='sessions mode: seconds between two requests of a session')
    p.add_argument('--timeout', type=float, default=5.0, help='seconds a request may take')
    p.add_argument('--ramp', type=float, default=1.0, help='seconds over which clients start')
    a = p.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.clients + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    LoadGenerator(a.url, a.clients, a.keepalive, a.interval, a.timeout).run(a.duration, a.ramp)
    return 0


if __name__ == '__main__':
    sys.exit(main())
