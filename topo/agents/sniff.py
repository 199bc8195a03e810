"""Count frames from one MAC to another as seen on a third host's interface.

A hub floods unicast frames to every port; a learning switch would not.
Says 'ready' once listening, then 'count' (topo/agents/events.py).
"""
import argparse
import ctypes
import socket
import struct
import sys
import time

from topo.agents.events import emit

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER, SOL_PACKET, PACKET_STATISTICS = 26, 263, 6


def mac_filter(src, dst):
    """A classic BPF program that keeps only frames from src to dst (MAC addresses,
    6 bytes each): the socket's buffer then holds nothing else. (Counting every frame
    of a busy LAN, e.g. Corosync's at start-up, it overflowed and lost what it counts.)"""
    ld_w, ld_h, jeq, ret = 0x20, 0x28, 0x15, 0x06      # BPF_LD|W|ABS, LD|H|ABS, JMP|JEQ|K, RET|K
    word = lambda b: int.from_bytes(b, 'big')
    insns = [(ld_w, 0, 0, 2), (jeq, 0, 7, word(dst[2:])),
             (ld_h, 0, 0, 0), (jeq, 0, 5, word(dst[:2])),
             (ld_w, 0, 0, 8), (jeq, 0, 3, word(src[2:])),
             (ld_h, 0, 0, 6), (jeq, 0, 1, word(src[:2])),
             (ret, 0, 0, 0xffff), (ret, 0, 0, 0)]
    return b''.join(struct.pack('HBBI', *i) for i in insns), len(insns)


def attach(sock, program, count):
    buf = ctypes.create_string_buffer(program)
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                    struct.pack('HL', count, ctypes.addressof(buf)))
    return buf      # (kept alive by the caller until the socket is closed)


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
    keep = attach(s, *mac_filter(src, dst))
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
    # what the kernel dropped for want of room in the socket's buffer (0 with the filter)
    passed, dropped = struct.unpack('II', s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    emit('count', seen=seen, passed=passed, dropped=dropped)
    del keep
    return 0


if __name__ == '__main__':
    sys.exit(main())
