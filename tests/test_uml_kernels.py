"""UML kernels: the choice between Debian 12's own and fetched ones, Debian's version
order, kernel.json only after a passing boot check, the network transport per
kernel, and (when one was fetched) the real boot check."""
import hashlib
import shutil
import json
from pathlib import Path

import pytest

from topo.kernels import uml_kernels as uk


def make_prefix(root, version, release, seccomp=True, described=True):
    """A prefix as fetch() leaves it (described=False: a half-fetched one)."""
    prefix = root / version
    (prefix / 'modules' / release / 'kernel').mkdir(parents=True)
    (prefix / 'linux.uml').write_bytes(b'kernel ' + version.encode())
    if described:
        (prefix / 'kernel.json').write_text(json.dumps({
            'package': uk.PACKAGE, 'version': version, 'suite': 'sid', 'release': release,
            'sha256': hashlib.sha256((prefix / 'linux.uml').read_bytes()).hexdigest(),
            'seccomp': seccomp, 'checked': '2026-12-06T00:00:00+00:00', 'check': {}}))
    return prefix


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setattr(uk, 'ROOT', tmp_path / 'uml')
    monkeypatch.setattr(uk, 'DEBIAN_BINARY', tmp_path / 'none' / 'linux.uml')
    monkeypatch.setattr(uk, 'DEBIAN_MODULES', tmp_path / 'none' / 'modules')
    (tmp_path / 'uml').mkdir()
    return tmp_path / 'uml'


def fake_debian(tmp_path, monkeypatch, release='6.1.176'):
    binary = tmp_path / 'deb' / 'linux.uml'
    (tmp_path / 'deb' / 'modules' / release / 'kernel').mkdir(parents=True)
    binary.write_bytes(b'debian kernel')
    monkeypatch.setattr(uk, 'DEBIAN_BINARY', binary)
    monkeypatch.setattr(uk, 'DEBIAN_MODULES', tmp_path / 'deb' / 'modules')


def test_versions_are_ordered_as_debian_orders_them():
    assert uk.newest_first(['6.1um4+b13', '7.2um1~rc1', '6.12um1+b22', '7.2um1', '6.12um1']) \
        == ['7.2um1', '7.2um1~rc1', '6.12um1+b22', '6.12um1', '6.1um4+b13']
    assert uk.version_cmp('6.12um1', '6.9um1') == 1       # not a string order
    assert uk.version_cmp('1:6.1', '7.2') == 1            # the epoch counts first
    assert uk.version_cmp('7.2um1', '7.2um1') == 0


def test_auto_takes_the_newest_fetched_kernel_that_passed_its_check(root, tmp_path,
                                                                    monkeypatch):
    fake_debian(tmp_path, monkeypatch)
    make_prefix(root, '6.12um1+b22', '6.12.48')
    make_prefix(root, '7.2um1', '7.2.7', seccomp=True)
    make_prefix(root, '7.3um1', '7.3.1', described=False)      # unchecked: never used
    assert [k.version for k in uk.available()] == ['7.2um1', '6.12um1+b22']
    k = uk.choose('auto')
    assert (k.version, k.release, k.seccomp, k.source) == ('7.2um1', '7.2.7', True, 'fetched')
    assert k.binary == str(root / '7.2um1' / 'linux.uml')
    assert k.modules == str(root / '7.2um1' / 'modules' / '7.2.7')
    assert k.boot_args() == ['seccomp=on']


def test_auto_falls_back_to_debians_own_and_says_what_to_install(root, tmp_path, monkeypatch):
    with pytest.raises(uk.KernelChoiceError, match='apt-get install user-mode-linux'):
        uk.choose('auto')
    with pytest.raises(uk.KernelChoiceError, match='apt-get install user-mode-linux'):
        uk.choose('debian')
    fake_debian(tmp_path, monkeypatch)
    make_prefix(root, '7.2um1', '7.2.7')
    assert (uk.choose('auto').source, uk.choose('debian').source) == ('fetched', 'debian')
    (root / '7.2um1' / 'kernel.json').unlink()      # the fetched one no longer counts
    for requested in ('auto', 'debian'):
        k = uk.choose(requested)
        assert (k.source, k.release, k.seccomp) == ('debian', '6.1.176', False)
        assert k.modules_root == str(tmp_path / 'deb' / 'modules')


def test_a_path_names_a_prefix_or_a_binary_beside_its_kernel_json(root, tmp_path, monkeypatch):
    prefix = make_prefix(tmp_path / 'elsewhere', '7.2um1', '7.2.7', seccomp=False)
    for path in (prefix, prefix / 'linux.uml'):
        k = uk.choose(str(path))
        assert (k.source, k.version, k.release, k.seccomp) == ('path', '7.2um1', '7.2.7', False)
        assert k.binary == str(prefix / 'linux.uml')
    # a binary with no modules of its own takes Debian's folder of its release
    fake_debian(tmp_path, monkeypatch, release='7.2.7')
    import shutil
    shutil.rmtree(prefix / 'modules')
    assert uk.choose(str(prefix)).modules_root == str(tmp_path / 'deb' / 'modules')
    lone = tmp_path / 'lone' / 'linux.uml'
    lone.parent.mkdir()
    lone.write_bytes(b'x')
    for bad, said in ((lone, 'no kernel.json beside it'), (tmp_path / 'nothing', 'not .auto.'),
                      (tmp_path / 'lone', 'no usable kernel.json')):
        with pytest.raises(ValueError, match=said) as e:
            uk.choose(str(bad))
        assert isinstance(e.value, uk.KernelChoiceError) and '\n' not in str(e.value)


@pytest.mark.parametrize('release, arg, iface', [
    ('6.1.176', 'eth1=tuntap,h1-lan', 'eth1'),
    ('6.9.2', 'eth1=tuntap,h1-lan', 'eth1'),
    ('6.12.48', 'vec1:transport=tap,ifname=h1-lan,gro=1', 'vec1'),
    ('7.2.7', 'vec1:transport=tap,ifname=h1-lan,gro=1', 'vec1'),
    ('10.0.1', 'vec1:transport=tap,ifname=h1-lan,gro=1', 'vec1'),
])
def test_the_network_transport_follows_the_kernel_release(release, arg, iface):
    k = uk.UMLKernel('/k', '/m', 'v', release, False, 'path')
    assert (k.tap_arg(1, 'h1-lan'), k.iface(1)) == (arg, iface)


def test_the_archive_is_the_one_the_host_names(tmp_path):
    deb822 = tmp_path / 'debian.sources'
    deb822.write_text('Types: deb\n# http://snapshot.debian.org/archive/debian/2025Z\n'
                      'URIs: http://ftp.de.debian.org/debian/\nSuites: bookworm\n'
                      'Components: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\n'
                      'Suites: bookworm-security\n')
    one_line = tmp_path / 'mirror.list'
    one_line.write_text('# deb http://old/debian bookworm main\n'
                        'deb [arch=amd64 signed-by=/k.gpg] https://mirror.example/debian bookworm main\n')
    snapshot = tmp_path / 'snap.list'
    snapshot.write_text('deb http://snapshot.debian.org/archive/debian/20250520T000000Z bookworm main\n')
    assert uk.archive_uri([deb822]) == 'http://ftp.de.debian.org/debian'
    assert uk.archive_uri([one_line, deb822]) == 'https://mirror.example/debian'
    assert uk.archive_uri([snapshot, tmp_path / 'missing.list']) == uk.FALLBACK_URI


class FakeApt:
    """The archive, as fetch() asks it: one newest version, and its download."""
    newest_version = '7.2um1'

    def __init__(self, state):
        pass

    def newest(self, package, uri, log):
        return [(self.newest_version, 'sid'), ('6.12um1+b22', 'trixie')]

    def download(self, specs, into):
        assert specs in (['user-mode-linux=%s' % self.newest_version, 'libc6/sid'],
                         ['user-mode-linux=6.12um1+b22', 'libc6/trixie'])
        return []

    def forget(self):
        pass


def test_kernel_json_is_written_only_after_a_passing_check(root, monkeypatch):
    make_prefix(root, '6.12um1+b22', '6.12.48')     # fetched earlier
    monkeypatch.setattr(uk, '_Apt', FakeApt)
    monkeypatch.setattr(uk, '_unpack', lambda debs, prefix: make_prefix(
        prefix.parent, prefix.name, '7.2.7', described=False))
    monkeypatch.setattr(uk, '_patch', lambda prefix: None)
    checks = []

    def failing(prefix):
        checks.append(prefix)
        assert not (Path(prefix) / 'kernel.json').exists()
        raise uk.CheckError('linux.uml failed its boot check: no /proc/net/ip_vs')
    monkeypatch.setattr(uk, 'check', failing)
    # the newest fails its check: the next one, fetched earlier, serves
    assert uk.fetch(log=lambda m: None).version == '6.12um1+b22'
    assert not (root / '7.2um1').exists()           # nothing of a failed kernel stays
    assert [k.version for k in uk.available()] == ['6.12um1+b22']
    # none of them boots: the newest one's reason, and nothing stays
    shutil.rmtree(root / '6.12um1+b22')
    with pytest.raises(uk.CheckError, match='no /proc/net/ip_vs'):
        uk.fetch(log=lambda m: None)
    assert [Path(c).name for c in checks] == ['7.2um1', '7.2um1', '6.12um1+b22']
    assert uk.available() == []
    make_prefix(root, '6.12um1+b22', '6.12.48')     # (fetched earlier, for what follows)

    seen = {'release': '7.2.7', 'seccomp': True, 'loaded': uk.CHECK_MODULES}
    monkeypatch.setattr(uk, 'check', lambda prefix: checks.append(prefix) or dict(seen))
    k = uk.fetch(log=lambda m: None)
    meta = json.loads((root / '7.2um1' / 'kernel.json').read_text())
    assert meta['sha256'] == hashlib.sha256(b'kernel 7.2um1').hexdigest()
    assert (meta['version'], meta['suite'], meta['release'], meta['seccomp'], meta['check']) \
        == ('7.2um1', 'sid', '7.2.7', True, seen)
    assert (k.version, k.seccomp, k.source) == ('7.2um1', True, 'fetched')
    assert not (root / '6.12um1+b22').exists()       # the older one went once this passed
    assert not list(root.glob('7.2um1/.kernel.json*'))

    # already there: no download, no boot
    def unpack_again(debs, prefix):
        raise LookupError('fetched again')
    monkeypatch.setattr(uk, '_unpack', unpack_again)
    n = len(checks)
    assert uk.fetch(log=lambda m: None) == k and len(checks) == n
    # a binary that is not the one checked is fetched and checked again
    (root / '7.2um1' / 'linux.uml').write_bytes(b'changed')
    with pytest.raises(LookupError, match='fetched again'):
        uk.fetch(log=lambda m: None)


def test_without_patchelf_nothing_is_downloaded_and_the_reason_names_the_package(
        root, monkeypatch):
    monkeypatch.setattr(uk, '_Apt', FakeApt)
    monkeypatch.setattr(uk.shutil, 'which', lambda name: None)
    with pytest.raises(uk.FetchError, match=r'^patchelf is missing: apt-get install patchelf$'):
        uk.fetch(log=lambda m: None)
    assert not list(root.iterdir()) or [p.name for p in root.iterdir()] == ['.lock']


def test_setup_says_one_line_and_falls_back_without_failing(root, tmp_path, monkeypatch,
                                                            capsys):
    fake_debian(tmp_path, monkeypatch)
    monkeypatch.setattr(uk, 'check', lambda prefix: {'release': '6.1.176'})   # it boots

    def no_archive(log):
        raise uk.FetchError('user-mode-linux not found in sid/trixie of http://x/debian')
    monkeypatch.setattr(uk, 'fetch', no_archive)
    assert uk.main(['setup']) == 0
    out = capsys.readouterr().out
    assert out.count('\n') == 1 and "the testbed uses Debian 12's own (" in out
    assert 'could not be used (user-mode-linux not found' in out


def test_the_fetched_kernel_boots_loads_ipvs_and_openvswitch():
    """The real check, on the kernel `setup` fetched (the only test that may skip)."""
    fetched = uk.available()
    if not fetched:
        pytest.skip('no fetched UML kernel under %s: python3 -m topo.kernels.uml_kernels '
                    'setup fetches one' % uk.ROOT)
    k = fetched[0]
    meta = json.loads(Path(k.binary).with_name('kernel.json').read_text())
    seen = uk.check(Path(k.binary).parent)
    assert seen['release'] == k.release
    assert set(seen['loaded']) == set(uk.CHECK_MODULES)
    assert seen['ip_vs'] and seen['openvswitch']
    assert seen['seccomp'] == meta['seccomp']
    assert not list(Path(k.binary).parent.glob('.check-*'))     # nothing left behind


def test_a_debian_kernel_that_cannot_boot_here_is_never_chosen(root, tmp_path, monkeypatch,
                                                                capsys):
    """Debian 12's 6.1 panics at its first process on CPUs with AMX: its check says so
    once per binary and CPU, auto passes it over, --uml-kernel debian is refused with
    the reason, and setup says it in one line."""
    fake_debian(tmp_path, monkeypatch)
    boots = []

    def panics(prefix):
        boots.append(prefix)
        raise uk.CheckError('%s failed its boot check: init never wrote its result '
                            '(userspace - ptrace set fp regs failed, errno = 14)'
                            % (prefix / 'linux.uml'))
    monkeypatch.setattr(uk, 'check', panics)
    record = uk.check_debian(log=lambda m: None)
    assert record['passed'] is False and 'fp regs failed' in record['reason']
    assert str(tmp_path / 'deb' / 'linux.uml') in record['reason']       # the real binary
    assert uk.check_debian(log=lambda m: None) == record and len(boots) == 1  # remembered
    with pytest.raises(uk.KernelChoiceError, match="cannot run on this host: .*fp regs"):
        uk.choose('debian')
    with pytest.raises(uk.KernelChoiceError, match='no UML kernel that boots on this host'):
        uk.choose('auto')
    make_prefix(root, '7.2um1', '7.2.7', seccomp=True)
    assert uk.choose('auto').version == '7.2um1'
    monkeypatch.setattr(uk, 'fetch', lambda log: uk.available()[0])
    uk.main(['setup'])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("UML kernel: Debian 12's own (") and 'cannot run' in out[0]
    assert out[1].startswith('UML kernel: 7.2um1')
    # another binary (an upgrade) is booted again
    (tmp_path / 'deb' / 'linux.uml').write_bytes(b'debian kernel, rebuilt')
    assert uk.debian_problem() is None      # the record was of another binary
    uk.check_debian(log=lambda m: None)
    assert len(boots) == 2
