"""Integration: the schedulers experiment on the real cluster (UML kernel mode here)."""
import json
import struct
import time

from conftest import EXPECTED_MODE, experiment, leftovers

SERVERS = ['laico2', 'laico3', 'laico4']


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    assert data[12:16] == b'IHDR'
    return struct.unpack('>II', data[16:24])


def test_schedulers_spread_as_section_2_2_says(run_dir):
    t0 = time.monotonic()
    p = experiment('schedulers', '--results', str(run_dir))
    print('schedulers run end to end: %.1fs (%s)' % (time.monotonic() - t0, EXPECTED_MODE))
    s = json.loads((run_dir / 'summary.json').read_text())
    assert p.returncode == 0
    assert s['complete'] is True and s['passed'] is True
    assert s['kernel_mode'] == EXPECTED_MODE
    scheds = s['schedulers']
    assert list(scheds) == ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh']
    # the hashing schedulers: 300 client addresses, each twice; every address kept its
    # server and the addresses spread by the weights 2, 3, 4 (within 4 sigma)
    for name in ('sh', 'mh'):
        r = scheds.pop(name)
        assert r['sources'] == 300 and r['requests'] == 600 and r['failed'] == 0, name
        assert r['sticky_sources'] == 300 and r['moved_count'] == 0, name
        assert sum(r['sources_per_server'].values()) == 300, name
        assert r['checks']['sources_spread_by_weight'], (name, r['sources_per_server'])
        numeric = (run_dir / ('ipvsadm-%s-short.n.txt' % name)).read_text()
        assert '10.0.14.146:80 %s' % name in ' '.join(numeric.split())
    for name, r in scheds.items():
        assert r['weights'] == {'laico2': 2, 'laico3': 3, 'laico4': 4}
        total = sum(r['answers'].values())
        assert total == r['requests'] and total % 9 == 0 and r['failed'] == 0, name

    # wrr: every round of 9 requests gives exactly 2, 3, 4 (the paper's worked example)
    wrr = scheds['wrr']
    seq = wrr['sequence']
    assert len(seq) >= 9
    for i in range(0, len(seq), 9):
        chunk = seq[i:i + 9]
        assert [chunk.count(n) for n in SERVERS] == [2, 3, 4], (i, chunk)
    assert wrr['max_deviation'] == 0

    # rr: equal shares
    rr = scheds['rr']
    assert len(set(rr['answers'].values())) == 1
    assert rr['max_deviation'] == 0

    # long-lived connections: 9 sessions already on laico4, 18 new ones held;
    # rr/wrr ignore them, lc evens out ActiveConn, wlc makes it proportional to the weights
    for r in scheds.values():
        assert r['preload'] == {'laico2': 0, 'laico3': 0, 'laico4': 9}
        assert sum(r['active_peak'].values()) == 27
    assert scheds['rr']['active_peak'] == {'laico2': 6, 'laico3': 6, 'laico4': 15}
    assert scheds['wrr']['active_peak'] == {'laico2': 4, 'laico3': 6, 'laico4': 17}
    assert scheds['lc']['active_peak'] == {'laico2': 9, 'laico3': 9, 'laico4': 9}
    assert scheds['wlc']['active_peak'] == {'laico2': 6, 'laico3': 9, 'laico4': 12}

    # one ipvsadm -L snapshot per scheduler, showing the held sessions as ActiveConn
    for name in scheds:
        listing = (run_dir / ('ipvsadm-%s.txt' % name)).read_text()
        assert 'laico2:http' in listing
        assert '10.0.14.146:http %s' % name in ' '.join(listing.split())
        numeric = (run_dir / ('ipvsadm-%s.n.txt' % name)).read_text()
        assert '10.0.14.146:80 %s' % name in ' '.join(numeric.split())
    width, height = png_size(run_dir / 'scheduler_distribution.png')
    assert width > 400 and height > 300
    assert leftovers(p.run_id) == []
