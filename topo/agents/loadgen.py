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
  count mode (--requests N, with requests mode): N requests in all, then stop, as
      h2load -n: the load lab's connection-per-request ramp. A failed request is
      counted and the client goes on with the next one.

--sources FIRST --source-count N: each new connection is bound to the next of N
client addresses from FIRST (round robin), as a director on the Internet sees
many clients; the client host must own them (the testbed routes a prefix to it,
topo/network/roles.py). Without them, every connection comes from the host's address.

Failures by kind: connect-timeout (no handshake within --timeout: SYNs lost),
read-timeout (connected, no whole answer in time), reset, refused, closed, http-NNN.

Output, events as in topo/agents/events.py: 'ready' once every client started,
'load' each second (ok, failed by kind, latency percentiles, in flight),
'done' at the end (totals, sessions survived, this process's CPU seconds; in count
mode also the percentiles of every request's time and of its connect time).
"""
import argparse
import errno
import heapq
import ipaddress
import itertools
import resource
import selectors
import signal
import socket
import sys
import time
from urllib.parse import urlsplit

from topo.agents.events import emit
from topo.network.addresses import endpoint, family
from topo.stats import percentile


# Linux: bind() picks no port, connect() does, per destination: many sources, no
# ephemeral-port exhaustion (not in Python's socket module by name)
IP_BIND_ADDRESS_NO_PORT = 24


def source_addresses(first, count):
    """The count client addresses from first, in order."""
    start = ipaddress.ip_address(first)
    return [str(start + i) for i in range(count)]


def served_by(response):
    """The real server an answer names (its X-Served-By header), or None."""
    head = response.partition(b'\r\n\r\n')[0]
    for line in head.split(b'\r\n')[1:]:
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'x-served-by':
            return value.strip().decode('latin-1')
    return None


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
        self.server = None          # sessions mode: the real server of its first answer
        self.broke = None           # sessions mode: (how, wall time) its first connection broke
        self.last_ok = None         # wall time of its last answer
        self.source = None          # sessions mode: its first connection's 'ip:port'
        self.token = 0              # invalidates timers set before the last state change

    # -- connection --
    def connect(self):
        self.sock = socket.socket(family(self.gen.address[0]), socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.connected = False
        self.session += 1
        source = self.gen.next_source()
        if source:
            self.sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            try:
                self.sock.bind((source, 0))
            except OSError as e:
                return self.fail('bind-%s' % error_kind(e.errno))
        self.t_connect = time.monotonic()
        err = self.sock.connect_ex(self.gen.address)
        if err not in (0, errno.EINPROGRESS):
            return self.fail(error_kind(err))
        if self.session == 1 and self.gen.keepalive:
            # (its port is chosen by now): what a director's connection table names
            self.source = endpoint(*self.sock.getsockname()[:2])
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
            self.gen.count_connect(time.monotonic() - self.t_connect)
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
        # a request on a new connection takes its connect too
        latency = time.monotonic() - (self.start if self.gen.keepalive else self.t_connect)
        self.token += 1
        if status == b'200':
            self.gen.count_ok(latency)
            self.last_ok = time.time()
            if self.gen.keepalive and self.server is None:
                self.server = served_by(self.data)
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
            if self.first_alive:
                self.broke = (kind, round(time.time(), 3))
            self.first_alive = False
        self.close()
        # as h2load, a failed request counts and (count mode) the next one goes at once;
        # otherwise a pause first: a refused connection must not spin the CPU
        pause = 0.0 if self.gen.requests is not None else self.gen.retry
        self.gen.timer(time.monotonic() + pause, self, self.token, 'reconnect')

    def next(self):
        if self.gen.stopping or not self.gen.take_request():
            return
        self.connect()

    def on_timer(self, what):
        if self.gen.stopping and what != 'timeout':
            return
        if what == 'timeout':
            self.fail('read-timeout' if self.connected else 'connect-timeout')
        elif what == 'next':
            if self.sock is None:
                self.next()
            else:
                self.begin()
        elif what == 'reconnect':
            self.next()


class LoadGenerator:
    def __init__(self, url, clients, keepalive=False, interval=0.2, timeout=5.0, retry=0.1,
                 requests=None, sources=(), headers=()):
        u = urlsplit(url)
        self.address = (u.hostname, u.port or 80)
        self.keepalive, self.interval, self.timeout, self.retry = keepalive, interval, timeout, retry
        self.request = ('GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hatestbed-loadgen\r\n%s%s\r\n'
                        % (u.path or '/', u.netloc, ''.join(h + '\r\n' for h in headers),
                           '' if keepalive else 'Connection: close\r\n')).encode()
        self.sel = selectors.DefaultSelector()
        self.timers = []
        self.seq = itertools.count()
        self.clients = [Client(self, i) for i in range(clients)]
        self.stopping = False
        self.total_ok = 0
        self.total_failed = {}
        self.requests, self.started, self.finished = requests, 0, 0
        self.sources, self.source_i = list(sources), 0
        self.all_latency, self.connect_s = [], []     # count mode: every request's
        self.reset_second()

    def take_request(self):
        """Whether a client may start one more request (count mode: N in all)."""
        if self.requests is not None:
            if self.started >= self.requests:
                return False
            self.started += 1
        return True

    def next_source(self):
        if not self.sources:
            return None
        self.source_i += 1
        return self.sources[(self.source_i - 1) % len(self.sources)]

    def count_connect(self, seconds):
        if self.requests is not None:
            self.connect_s.append(seconds)

    def all_done(self):
        return self.requests is not None and self.finished >= self.requests

    def timer(self, at, client, token, what):
        heapq.heappush(self.timers, (at, next(self.seq), client, token, what))

    def reset_second(self):
        self.sec_ok, self.sec_failed, self.sec_latency = 0, {}, []

    def count_ok(self, latency):
        self.sec_ok += 1
        self.total_ok += 1
        self.finished += 1
        self.sec_latency.append(latency)
        if self.requests is not None:
            self.all_latency.append(latency)

    def count_failed(self, kind, client):
        self.sec_failed[kind] = self.sec_failed.get(kind, 0) + 1
        self.total_failed[kind] = self.total_failed.get(kind, 0) + 1
        self.finished += 1

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
        while not stop and time.monotonic() < end and not self.all_done():
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
                        'reconnects': sum(c.session - 1 for c in self.clients),
                        # each session: [its first server, how and when its first
                        # connection broke (or None), its last answer's time, its
                        # first connection's source address and port]
                        'per_session': [[c.server, c.broke and c.broke[0],
                                         c.broke and c.broke[1], round(c.last_ok or 0, 2),
                                         c.source] for c in self.clients]}
        if self.requests is not None:
            sessions = {'requests': self.started, 'sources': max(1, len(self.sources)),
                        'latency': _percentiles(self.all_latency),
                        'connect': _percentiles(self.connect_s)}
        for c in self.clients:
            c.close()
        if self.sec_ok or self.sec_failed:
            self.report(wall_next - 1.0)
        emit('done', ok=self.total_ok, failed=self.total_failed, elapsed_s=round(elapsed, 3),
             cpu_s=round(_cpu() - cpu0, 2), **sessions)


def _r(v):
    return None if v is None else round(v, 4)


def _percentiles(values):
    v = sorted(values)
    return {'p50_s': _r(percentile(v, 50)), 'p90_s': _r(percentile(v, 90)),
            'p99_s': _r(percentile(v, 99)), 'max_s': _r(v[-1] if v else None), 'n': len(v)}


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
    p.add_argument('--requests', type=int,
                   help='count mode: this many requests in all, then stop')
    p.add_argument('--sources', metavar='ADDRESS',
                   help='first client address to bind connections to (with --source-count)')
    p.add_argument('--header', action='append', default=[], metavar='NAME: VALUE',
                   help='a request header (repeatable)')
    p.add_argument('--source-count', type=int, default=1,
                   help='how many client addresses from --sources, used in turn')
    a = p.parse_args(argv)
    if a.requests is not None and (a.keepalive or a.requests < 1):
        p.error('--requests: a positive number, in requests mode (not with --keepalive)')
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.clients + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    sources = source_addresses(a.sources, a.source_count) if a.sources else ()
    LoadGenerator(a.url, a.clients, a.keepalive, a.interval, a.timeout, requests=a.requests,
                  sources=sources, headers=a.header).run(a.duration, a.ramp)
    return 0


if __name__ == '__main__':
    sys.exit(main())
