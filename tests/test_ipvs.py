import pytest

from topo.network import ipvs
from topo.network.config import ClusterConfig

# Header-only output: what ipvsadm prints with no virtual service (figures 10 and 14).
HEADER_ONLY = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
"""

# The paper's figure 6, as printed there (old ipvsadm, names with a comma).
PAPER_FIG6 = """IP Virtual Server version 0.9.15 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port          Forward Weight ActiveConn InActConn
TCP 164.41.14.146:http rr
  -> laico2,laico.cic.unb.br:http Route 1 0 5
  -> laico3,laico.cic.unb.br:http Route 1 0 5
  -> laico4,laico.cic.unb.br:http Route 1 0 5
"""


def test_parse_captured_names(data):
    [svc] = ipvs.parse(data('fig06-laicoz.txt'))
    assert (svc['protocol'], svc['host'], svc['port'], svc['scheduler']) == \
        ('TCP', '10.0.14.146', 'http', 'rr')
    assert [r['host'] for r in svc['real_servers']] == ['laico2', 'laico3', 'laico4']
    assert all(r['forward'] == 'Route' and r['weight'] == 1 and r['active'] == 0
               and r['inactive'] == 5 for r in svc['real_servers'])


def test_parse_captured_numeric(data):
    [svc] = ipvs.parse(data('fig06-laicoz.n.txt'))
    assert svc['address'] == '10.0.14.146:80'
    assert [r['address'] for r in svc['real_servers']] == \
        ['10.0.14.12:80', '10.0.14.13:80', '10.0.14.14:80']


def test_header_only_is_an_empty_table():
    assert ipvs.parse(HEADER_ONLY) == []


def test_paper_print_parses_to_the_same_shape():
    [svc] = ipvs.parse(PAPER_FIG6)
    assert [ipvs.short_host(r['host']) for r in svc['real_servers']] == \
        ['laico2', 'laico3', 'laico4']
    assert [r['inactive'] for r in svc['real_servers']] == [5, 5, 5]


def test_garbage_is_not_silently_accepted():
    with pytest.raises(ValueError):
        ipvs.parse(HEADER_ONLY + 'ipvsadm: command not found\n')


def test_service_commands_follow_the_config():
    c = ClusterConfig(weights=[2, 3, 4], scheduler='wrr')
    cmds = ipvs.service_commands(c)
    assert cmds[0] == ['-A', '-t', '10.0.14.146:80', '-s', 'wrr']
    assert cmds[1:] == [['-a', '-t', '10.0.14.146:80', '-r', '10.0.14.%d:80' % (12 + i),
                         '-g', '-w', str(w)] for i, w in enumerate([2, 3, 4])]
