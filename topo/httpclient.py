"""HTTP requests from the client host to the virtual IP, with Python requests.

`burst`: N requests one after the other (the paper's fifteen browser reloads),
one JSON line each. Every request opens a new TCP connection, so IPVS
schedules each one, as it did for the paper's browser.
"""
import argparse
import json
import sys
import time

import requests

from topo.webserver import SERVED_BY


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
        print(json.dumps({'i': i, 't': time.time(), 'ok': ok,
                          'server' if ok else 'error': who, 'latency_s': round(latency, 4)}),
              flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest='mode', required=True)
    b = sub.add_parser('burst', help='N sequential requests, one JSON line each')
    b.add_argument('--url', required=True)
    b.add_argument('--count', type=int, default=15)
    b.add_argument('--timeout', type=float, default=5.0)
    a = p.parse_args(argv)
    if a.mode == 'burst':
        burst(a.url, a.count, a.timeout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
