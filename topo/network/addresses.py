"""Numeric addresses of either family, written as the tools write them (IPv6 has
colons, and brackets before a port)."""
import socket


def family(host):
    """The socket family of a numeric address."""
    return socket.AF_INET6 if ':' in host else socket.AF_INET


def endpoint(host, port):
    """'10.0.14.12:80', or '[2001:db8:14::12]:80' as ipvsadm and /proc/net/ip_vs write it."""
    return ('[%s]:%d' if ':' in host else '%s:%d') % (host, int(port))


def host_prefix(address):
    """'10.0.14.146/32' or '2001:db8:14::146/128': the one address, as a prefix."""
    return '%s/%d' % (address, 128 if ':' in address else 32)
