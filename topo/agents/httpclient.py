"""HTTP requests from the client host to the virtual IP, with Python requests.

`burst`: N requests one after the other (the paper's fifteen browser reloads),
one JSON line each. `probe`: a steady rate of requests, each with a short
timeout and on its own thread so an outage does not slow the rate, one JSON
line each, until stopped. Every request opens a new TCP connection, so IPVS
schedules each one, as it did for the paper's browser.
"""
import argparse
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from topo.agents.events import emit
from topo.agents.webserver import SERVED_BY


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


def burst(url, count, timeout):
    for i in range(count):
        ok, who, latency = fetch(url, timeout)
        emit('reply', i=i, ok=ok, latency_s=round(latency, 4), **{'server' if ok else 'error': who})


def probe(url, rate, timeout, stage_file):
    lock = threading.Lock()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def stage():
        try:
            with open(stage_file) as f:
                return f.read().strip()
        except (OSError, TypeError):
            return ''

    def one(i, sent, st):
        ok, who, latency = fetch(url, timeout)
        with lock:
            emit('probe', t=sent, i=i, stage=st, ok=ok, server=who if ok else '',
                 error='' if ok else who, latency_s=round(latency, 4))

    period = 1.0 / rate
    with ThreadPoolExecutor(max_workers=max(4, int(rate * timeout * 2) + 2)) as pool:
        i, next_t = 0, time.monotonic()
        while not stop.is_set():
            pool.submit(one, i, time.time(), stage())
            i += 1
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                stop.wait(delay)
            else:
                next_t = time.monotonic()     # fell behind: do not burst to catch up


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest='mode', required=True)
    b = sub.add_parser('burst', help='N sequential requests, one JSON line each')
    b.add_argument('--url', required=True)
    b.add_argument('--count', type=int, default=15)
    b.add_argument('--timeout', type=float, default=5.0)
    q = sub.add_parser('probe', help='steady rate of requests until SIGTERM, one JSON line each')
    q.add_argument('--url', required=True)
    q.add_argument('--rate', type=float, default=20.0, help='requests per second')
    q.add_argument('--timeout', type=float, default=1.0)
    q.add_argument('--stage-file', help='file whose content labels each request')
    a = p.parse_args(argv)
    if a.mode == 'burst':
        burst(a.url, a.count, a.timeout)
    else:
        probe(a.url, a.rate, a.timeout, a.stage_file)
    return 0


if __name__ == '__main__':
    sys.exit(main())
