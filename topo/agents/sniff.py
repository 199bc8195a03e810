"""Count frames from one MAC to another as seen on a third host's interface.

A hub floods unicast frames to every port; a learning switch would not.
Says 'ready' once listening, then 'count' (topo/agents/events.py).
"""
import argparse
import socket
import sys
import time

from topo.agents.events import emit

ETH_P_ALL = 0x0003


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--iface', required=True)
    p.add_argument('--src', required=True, help='source MAC')
    p.add_argument('--dst', required=True, help='destination MAC (not this host)')
    p.add_argument('--want', type=int, default=10, help='stop after this many frames')
    p.add_argument('--timeout', type=float, default=10.0)
    a = p.parse_args(argv)
    src, dst = bytes.fromhex(a.src.replace(':', '')), bytes.fromhex(a.dst.replace(':', ''))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.iface, 0))
    s.settimeout(0.5)
    emit('ready')
    seen, end = 0, time.monotonic() + a.timeout
    while seen < a.want and time.monotonic() < end:
        try:
            frame = s.recv(2048)
        except socket.timeout:
            continue
        if frame[0:6] == dst and frame[6:12] == src:
            seen += 1
    emit('count', seen=seen)
    return 0


if __name__ == '__main__':
    sys.exit(main())
