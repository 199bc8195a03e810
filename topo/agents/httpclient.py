"""HTTP requests from the client host to the virtual IP, with Python requests.

`burst`: N requests one after the other (the paper's fifteen browser reloads),
one JSON line each. `probe`: a steady rate of requests, each with a short
timeout, all from one thread on non-blocking sockets so an outage does not
slow the rate, one JSON line each, until stopped (then a 'done' line: its CPU time). Every request opens a new TCP connection, so IPVS
schedules each one, as it did for the paper's browser.
"""
import argparse
import errno
import resource
import selectors
import signal
import socket
import sys
import time
from urllib.parse import urlsplit

import requests

from topo.agents.events import emit
from topo.network.addresses import family
from topo.network.webserver import SERVED_BY


def fetch(url, timeout):
    """One GET on a fresh connection: (ok, server or error, latency_s)."""
    start = time.monotonic()
    try:
        r = requests.get(url, timeout=timeout, headers={'Connection': 'close'})
        ok = r.status_code == 200
        who = r.headers.get(SERVED_BY) or r.text.strip() if ok else 'HTTP %d' % r.status_code
    except requests.RequestException as e:
        ok, who = False, type(e).__name__
    return ok, who, time.monotonic() - start


def fetch_from(url, source, timeout):
    """fetch(), the connection bound to one of the client's addresses (requests cannot)."""
    import http.client
    parts = urlsplit(url)
    start = time.monotonic()
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout,
                                      source_address=(source, 0))
    try:
        conn.request('GET', parts.path or '/', headers={'Connection': 'close'})
        r = conn.getresponse()
        body = r.read()
        ok = r.status == 200
        who = (r.getheader(SERVED_BY) or body.decode(errors='replace').strip()) if ok \
            else 'HTTP %d' % r.status
    except (OSError, http.client.HTTPException) as e:
        ok, who = False, type(e).__name__
    finally:
        conn.close()
    return ok, who, time.monotonic() - start


def burst(url, count, timeout, sources=()):
    """count requests; with sources, request i comes from sources[i % len(sources)]."""
    for i in range(count):
        source = sources[i % len(sources)] if sources else None
        ok, who, latency = fetch_from(url, source, timeout) if source else fetch(url, timeout)
        emit('reply', i=i, ok=ok, latency_s=round(latency, 4),
             **{'server' if ok else 'error': who}, **({'source': source} if source else {}))


class Probe:
    """One request of the prober on a non-blocking socket: connect, send, read to EOF."""

    def __init__(self, i, address, request, timeout, stage):
        self.i, self.stage, self.request = i, stage, request
        self.sent, self.start = time.time(), time.monotonic()
        self.deadline = self.start + timeout
        self.data = b''
        self.sock = socket.socket(family(address[0]), socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.connected = False
        self.sock.connect_ex(address)

    def result(self, error=None):
        """(ok, server, error) from what came back."""
        if error:
            return False, '', error
        head, _, body = self.data.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            return False, '', 'BadResponse'
        if status != 200:
            return False, '', 'HTTP %d' % status
        for line in lines[1:]:
            name, _, value = line.partition(':')
            if name.strip().lower() == SERVED_BY.lower():
                return True, value.strip(), ''
        return True, body.decode('latin-1').strip(), ''


def probe(url, rate, timeout, stage_file):
    """Requests at a steady rate from one thread (a selector, no thread per request):
    an outage does not slow the rate, and thousands of requests in flight cost
    sockets, not threads."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    u = urlsplit(url)
    address = (u.hostname, u.port or 80)
    request = ('GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n'
               'User-Agent: hatestbed-prober\r\n\r\n' % (u.path or '/', u.netloc)).encode()

    def stage():
        try:
            with open(stage_file) as f:
                return f.read().strip()
        except (OSError, TypeError):
            return ''

    sel = selectors.DefaultSelector()
    inflight = {}

    def done(p, error=None):
        sel.unregister(p.sock)
        p.sock.close()
        del inflight[p.sock]
        ok, who, err = p.result(error)
        emit('probe', t=round(p.sent, 4), i=p.i, stage=p.stage, ok=ok, server=who, error=err,
             latency_s=round(time.monotonic() - p.start, 4))

    period = 1.0 / rate
    i, next_t = 0, time.monotonic()
    while not stop:
        now = time.monotonic()
        if now >= next_t:
            p = Probe(i, address, request, timeout, stage())
            inflight[p.sock] = p
            sel.register(p.sock, selectors.EVENT_WRITE, p)
            i += 1
            next_t += period
            if next_t < now:
                next_t = now + period         # fell behind: do not burst to catch up
        wake = min([next_t] + [p.deadline for p in inflight.values()])
        for key, mask in sel.select(max(0.0, wake - time.monotonic())):
            p = key.data
            if not p.connected:
                err = p.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    done(p, 'ConnectionRefused' if err == errno.ECONNREFUSED
                         else errno.errorcode.get(err, str(err)))
                    continue
                p.connected = True
                try:
                    p.sock.send(p.request)    # a few bytes: fit an empty send buffer
                except OSError as e:
                    done(p, errno.errorcode.get(e.errno, str(e)))
                    continue
                sel.modify(p.sock, selectors.EVENT_READ, p)
                continue
            try:
                chunk = p.sock.recv(65536)
            except OSError as e:
                done(p, 'ConnectionReset' if e.errno == errno.ECONNRESET
                     else errno.errorcode.get(e.errno, str(e)))
                continue
            if chunk:
                p.data += chunk
            else:
                done(p)
        now = time.monotonic()
        for p in [p for p in inflight.values() if p.deadline <= now]:
            done(p, 'ReadTimeout' if p.connected else 'ConnectTimeout')
    usage = resource.getrusage(resource.RUSAGE_SELF)
    emit('done', probes=i, cpu_s=round(usage.ru_utime + usage.ru_stime, 2))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest='mode', required=True)
    b = sub.add_parser('burst', help='N sequential requests, one JSON line each')
    b.add_argument('--url', required=True)
    b.add_argument('--count', type=int, default=15)
    b.add_argument('--timeout', type=float, default=5.0)
    b.add_argument('--sources', metavar='ADDRESS',
                   help='request i from the i-th (modulo --source-count) client address '
                        'counting from this one')
    b.add_argument('--source-count', type=int, default=1)
    q = sub.add_parser('probe', help='steady rate of requests until SIGTERM, one JSON line each')
    q.add_argument('--url', required=True)
    q.add_argument('--rate', type=float, default=20.0, help='requests per second')
    q.add_argument('--timeout', type=float, default=1.0)
    q.add_argument('--stage-file', help='file whose content labels each request')
    a = p.parse_args(argv)
    if a.mode == 'burst':
        from topo.agents.loadgen import source_addresses
        burst(a.url, a.count, a.timeout,
              source_addresses(a.sources, a.source_count) if a.sources else ())
    else:
        probe(a.url, a.rate, a.timeout, a.stage_file)
    return 0


if __name__ == '__main__':
    sys.exit(main())
