"""User-Mode-Linux kernels: Debian 12's own, and the newest one Debian's archive
carries, fetched into a private prefix.

Debian's newer suites carry newer UML kernels (7.2 in sid) that start processes
2.5-3.5 times as fast as Debian 12's 6.1 when booted with `seccomp=on`, and boot
on hosts where 6.1 and 6.12 panic at their first process ("ptrace set fp regs
failed, errno = 14", seen on a CPU with AVX-512 and AMX). They need a newer glibc than
Debian 12's, so the kernel and that glibc are unpacked into
ROOT/<package version>/ and the kernel binary is patched to use that glibc: the
host's packages are never changed (no partial upgrade, no second suite in its
sources).

Prefix layout: linux.uml (patched), lib/x86_64-linux-gnu/ (its glibc),
modules/<release>/kernel/..., lib/modules -> ../modules (so `modprobe -d <prefix>`
finds them with no mount), kernel.json (written last, only after a passing check:
a prefix without it is never used).
"""
import argparse
import datetime
import fcntl
import functools
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from topo.network.config import SCHEDULER_MODULES

ROOT = Path('/var/lib/ha-lvs-testbed/uml')
PACKAGE = 'user-mode-linux'
SUITES = ('sid', 'trixie')
KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg'
FALLBACK_URI = 'http://deb.debian.org/debian'
APT_SOURCES = [Path('/etc/apt/sources.list')]
APT_SOURCE_PARTS = Path('/etc/apt/sources.list.d')
DEBIAN_BINARY = Path('/usr/bin/linux.uml')
DEBIAN_MODULES = Path('/usr/lib/uml/modules')
DEBIAN_CHECK = 'debian.json'     # in ROOT: what Debian 12's kernel did at its boot check
LIBDIR = 'lib/x86_64-linux-gnu'
LOADER = 'ld-linux-x86-64.so.2'
CHECK_MODULES = ['ip_vs'] + SCHEDULER_MODULES + ['openvswitch', 'veth', 'sch_netem', 'ipip']
CHECK_TIMEOUT_S = 60
# The archive is asked again only when what it said is a day old: a second `setup`
# the same day needs no network and no boot (only the sha256 of the binary, 0.1 s).
UPDATE_EVERY_S = 86400
# UML before 6.12 keeps the legacy `ethN=tuntap` transport the testbed has always used
# on 6.1; 7.2 has only the vector driver (and ignores `ethN=` silently). 6.1 and 6.12
# carry both drivers, so from 6.12 on the vector driver is used.
VECTOR_FROM = (6, 12)
SECCOMP_SEEN = b'Checking that seccomp filters can be installed...OK'


class KernelChoiceError(ValueError):
    """The kernel asked for cannot be used; a one-line message says why."""


class FetchError(RuntimeError):
    """The newest kernel of the archive could not be fetched; one line says why."""


class CheckError(FetchError):
    """A kernel failed its boot check; one line says what was seen."""


@dataclass(frozen=True)
class UMLKernel:
    binary: str
    modules_root: str       # holds <release>/kernel/...
    version: str            # the Debian package's version
    release: str            # uname -r inside
    seccomp: bool           # boots with seccomp=on (and is faster with it)
    source: str             # 'debian', 'fetched' or 'path'

    @property
    def release_tuple(self):
        m = re.match(r'(\d+)\.(\d+)', self.release)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    @property
    def transport(self):
        return 'vector' if self.release_tuple >= VECTOR_FROM else 'tuntap'

    def tap_arg(self, index, tap):
        """The kernel argument that gives the UML its interface number index on host tap."""
        if self.transport == 'vector':
            # gro=1: the host's bridge and tap hand it GSO frames (up to 64 kB); without
            # it they are cut to one MTU and dropped ("Incoming GSO frames and GRO
            # disabled"), so any TCP transfer of more than a few segments stalls
            return 'vec%d:transport=tap,ifname=%s,gro=1' % (index, tap)
        return 'eth%d=tuntap,%s' % (index, tap)

    def iface(self, index):
        """That interface's name inside the UML."""
        return ('vec%d' if self.transport == 'vector' else 'eth%d') % index

    def boot_args(self):
        return ['seccomp=on'] if self.seccomp else []

    @property
    def modules(self):
        return os.path.join(self.modules_root, self.release)


def memory_dir(fallback):
    """UML backs its memory with a file in TMPDIR: tmpfs (/dev/shm) keeps that in RAM."""
    try:
        with open('/proc/mounts') as f:
            if any(l.split()[1:3] == ['/dev/shm', 'tmpfs'] for l in f):
                return '/dev/shm'
    except OSError:
        pass
    return str(fallback)


# ---------------------------------------------------------------- versions

def version_cmp(a, b):
    """Debian's ordering of package versions (7.2um1 > 6.12um1+b22 > 6.1um4+b13)."""
    for op, result in (('lt', -1), ('gt', 1)):
        if a != b and subprocess.run(['dpkg', '--compare-versions', a, op, b]).returncode == 0:
            return result
    return 0


def newest_first(versions, key=lambda v: v):
    return sorted(versions, key=functools.cmp_to_key(lambda x, y: version_cmp(key(x), key(y))),
                  reverse=True)


# ---------------------------------------------------------------- kernels present

def _from_prefix(prefix, source='fetched', binary=None):
    """The kernel a kernel.json describes, or None if it is unusable."""
    prefix = Path(prefix)
    try:
        meta = json.loads((prefix / 'kernel.json').read_text())
        binary = Path(binary or prefix / 'linux.uml')
        modules = prefix / 'modules'
        if source == 'path' and not (modules / meta['release']).is_dir():
            modules = DEBIAN_MODULES
        if not (binary.is_file() and (modules / meta['release']).is_dir()):
            return None
        return UMLKernel(str(binary), str(modules), meta['version'], meta['release'],
                         bool(meta['seccomp']), source)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def available():
    """The fetched kernels that passed their check, newest first."""
    if not ROOT.is_dir():
        return []
    found = [_from_prefix(d) for d in ROOT.iterdir() if d.is_dir() and not d.name.startswith('.')]
    return newest_first([k for k in found if k], key=lambda k: k.version)


def debian():
    """Debian 12's own kernel (package user-mode-linux), or None if not installed."""
    if not DEBIAN_BINARY.is_file():
        return None
    releases = [d.name for d in DEBIAN_MODULES.glob('*') if (d / 'kernel').is_dir()]
    if not releases:
        return None
    q = subprocess.run(['dpkg-query', '-W', '-f', '${Version}', PACKAGE],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    # one package ships one modules folder; several would be leftovers, the newest is its own
    return UMLKernel(str(DEBIAN_BINARY), str(DEBIAN_MODULES), q.stdout.strip() or 'unknown',
                     newest_first(releases)[0], False, 'debian')


def _host_cpu():
    """What decides whether a kernel boots on this host besides its binary: the CPU."""
    try:
        with open('/proc/cpuinfo') as f:
            info = {k.strip(): v for k, v in (l.split(':', 1) for l in
                                              f.read().split('\n\n')[0].splitlines() if ':' in l)}
        return '%s | %s' % (info.get('model name', '').strip(), hashlib.sha256(
            info.get('flags', '').strip().encode()).hexdigest()[:12])
    except OSError:
        return 'unknown'


def _file_id(path):
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def check_debian(log=print):
    """Boot Debian 12's kernel once per binary and host CPU, as a fetched one is checked,
    and remember what it did (DEBIAN_CHECK): on some hosts it cannot run at all (6.1
    and 6.12 panic at their first process on CPUs with AMX: "ptrace set fp regs
    failed, errno = 14"), and neither auto nor a run asking for it may find that out
    by a run that dies. The record, or None when the kernel is not installed."""
    kernel = debian()
    if not kernel:
        return None
    key = {'version': kernel.version, 'sha256': _sha256(kernel.binary), 'cpu': _host_cpu(),
           'file': _file_id(kernel.binary)}
    try:
        record = json.loads((ROOT / DEBIAN_CHECK).read_text())
        if all(record.get(k) == v for k, v in key.items()):
            return record
    except (OSError, ValueError):
        pass
    ROOT.mkdir(parents=True, exist_ok=True)
    # check() boots <prefix>/linux.uml with modprobe -d <prefix>: a prefix of links
    prefix = ROOT / '.debian'
    shutil.rmtree(prefix, ignore_errors=True)
    (prefix / 'lib').mkdir(parents=True)
    os.symlink(kernel.binary, prefix / 'linux.uml')
    os.symlink(kernel.modules_root, prefix / 'lib' / 'modules')
    try:
        record = dict(key, passed=True, check=check(prefix))
    except CheckError as e:
        record = dict(key, passed=False, reason=str(e).replace(str(prefix / 'linux.uml'),
                                                               kernel.binary))
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
    log("Debian 12's UML kernel %s: %s" % (kernel.version, 'boots' if record['passed']
                                          else record['reason']))
    tmp = ROOT / (DEBIAN_CHECK + '.tmp')
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, ROOT / DEBIAN_CHECK)
    return record


def debian_problem():
    """Why Debian 12's kernel cannot run here (its last check on this binary and CPU
    failed), or None (it passed, or it was never checked: tried as before)."""
    kernel = debian()
    try:
        record = json.loads((ROOT / DEBIAN_CHECK).read_text())
    except (OSError, ValueError):
        return None
    # (the binary known by its size and time, not hashed again at every run's start)
    if kernel and not record.get('passed') and record.get('version') == kernel.version \
            and record.get('cpu') == _host_cpu() and record.get('file') == _file_id(kernel.binary):
        return record.get('reason') or 'failed its boot check'
    return None


def choose(requested='auto'):
    """'auto' (the newest fetched, else Debian's), 'debian', or a path to a prefix
    folder holding kernel.json or to a kernel binary beside one."""
    if requested in (None, '', 'auto'):
        kernel = next(iter(available()), None)
        if kernel:
            return kernel
        kernel, problem = debian(), debian_problem()
        if not kernel:
            raise KernelChoiceError('no UML kernel: apt-get install user-mode-linux '
                                    '(or python3 -m topo.kernels.uml_kernels setup)')
        if problem:
            raise KernelChoiceError("no UML kernel that boots on this host: Debian 12's own "
                                    '(%s) %s; the set-up fetches a newer one (./testbed setup)'
                                    % (kernel.version, problem))
        return kernel
    if requested == 'debian':
        kernel = debian()
        if not kernel:
            raise KernelChoiceError("Debian's UML kernel (%s) is not installed: "
                                    'apt-get install user-mode-linux' % DEBIAN_BINARY)
        problem = debian_problem()
        if problem:
            raise KernelChoiceError("Debian 12's UML kernel %s cannot run on this host: %s"
                                    % (kernel.version, problem))
        return kernel
    path = Path(requested)
    if path.is_dir():
        kernel = _from_prefix(path, 'path')
    elif path.is_file():
        # the release is only known from a check that booted it: no kernel.json, no release
        if not (path.parent / 'kernel.json').is_file():
            raise KernelChoiceError('%s: no kernel.json beside it, so its release is unknown; '
                                    'give a prefix folder made by `python3 -m '
                                    'topo.kernels.uml_kernels setup`' % path)
        kernel = _from_prefix(path.parent, 'path', binary=path)
    else:
        raise KernelChoiceError("UML kernel %r: not 'auto', 'debian', nor an existing path"
                                % requested)
    if not kernel:
        raise KernelChoiceError('%s: no usable kernel.json (with version, release, seccomp), '
                                'kernel binary linux.uml, or modules/<release> there or in %s'
                                % (path, DEBIAN_MODULES))
    return kernel


# ---------------------------------------------------------------- check

def check(prefix, timeout_s=CHECK_TIMEOUT_S):
    """Boot the prefix's kernel (seccomp=on first), load the testbed's modules, see
    IPVS and Open vSwitch; what it saw (for kernel.json), or CheckError."""
    prefix = Path(prefix).resolve()
    binary = prefix / 'linux.uml'
    libs = _libraries(prefix, binary)
    seen, problem = _boot(prefix, binary, seccomp=True, timeout_s=timeout_s)
    if not problem:
        # a kernel that does not know seccomp=on ignores it: seen['seccomp'] tells
        return dict(seen, libraries=libs)
    seen, problem2 = _boot(prefix, binary, seccomp=False, timeout_s=timeout_s)
    if not problem2:
        return dict(seen, libraries=libs, seccomp_on_failed=problem)
    raise CheckError('%s failed its boot check: %s' % (binary, problem2))


def _libraries(prefix, binary):
    """Each shared library the kernel loads, as its own loader resolves it."""
    loader = prefix / LIBDIR / LOADER
    cmd = [str(loader), '--list', str(binary)] if loader.exists() else ['ldd', str(binary)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found = dict(re.findall(r'^\s*(\S+) => (.*?)(?: \(0x[0-9a-f]+\))?$', p.stdout, re.M))
    missing = [lib for lib, where in found.items() if where == 'not found']
    if p.returncode or missing:
        raise CheckError('%s: libraries not found: %s' % (binary, ', '.join(missing)
                                                           or p.stdout.strip()[-200:]))
    return {lib: where for lib, where in found.items() if not lib.startswith('linux-vdso')}


def _init_script(prefix, out):
    prefix, out = shlex.quote(str(prefix)), shlex.quote(str(out))
    return f"""#!/bin/sh
# PID 1 of the kernel check (topo/kernels/uml_kernels.py); an init that exits panics
# UML, so it powers off. Nothing is mounted over /tmp or the prefix: they stay the host's.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
{{
echo "release $(uname -r)"
for m in {' '.join(CHECK_MODULES)}; do
  /sbin/modprobe -d {prefix} $m && echo "loaded $m" || echo "failed $m"
done
[ -e /proc/net/ip_vs ] && echo "ip_vs yes"
[ -d /sys/module/openvswitch ] && echo "openvswitch yes"
echo end
}} > {out} 2>&1
sync
echo o > /proc/sysrq-trigger
sleep 60
"""


def _boot(prefix, binary, seccomp, timeout_s):
    tag = '.check-%d-%s' % (os.getpid(), os.urandom(3).hex())
    script, out, home = (prefix / (tag + s) for s in ('.sh', '.out', '.home'))
    script.write_text(_init_script(prefix, out))
    script.chmod(0o700)
    home.mkdir()        # UML keeps its pid file under $HOME/.uml and crashes without $HOME
    # not `quiet`: the line that says seccomp is in use is only printed without it
    cmd = [str(binary), 'root=/dev/root', 'rootfstype=hostfs', 'rootflags=/', 'rw', 'mem=256M',
           'init=%s' % script, 'con=null', 'con0=fd:0,fd:1'] + (['seccomp=on'] if seccomp else [])
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            env={'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'HOME': str(home),
                                 'TMPDIR': memory_dir(home)})
    try:
        console, _ = proc.communicate(timeout=timeout_s)
        hung = False
    except subprocess.TimeoutExpired:
        _kill(proc)
        console, hung = proc.communicate()[0], True
    seen = {'boot_args': ['seccomp=on'] if seccomp else [],
            'seccomp': SECCOMP_SEEN in console, 'boot_s': round(time.monotonic() - started, 2),
            'exit': proc.returncode}
    try:
        lines = out.read_text().splitlines()
    except OSError:
        lines = []
    finally:
        for p in (script, out):
            p.unlink(missing_ok=True)
        shutil.rmtree(home, ignore_errors=True)
    words = [l.split(' ', 1) + [''] for l in lines]
    seen['release'] = next((w[1] for w in words if w[0] == 'release'), None)
    seen['loaded'] = [w[1] for w in words if w[0] == 'loaded']
    seen['ip_vs'] = ['ip_vs', 'yes', ''] in words
    seen['openvswitch'] = ['openvswitch', 'yes', ''] in words
    seen['errors'] = [l for l in lines if l.split(' ', 1)[0] not in
                      ('release', 'loaded', 'failed', 'ip_vs', 'openvswitch', 'end')][:5]
    return seen, _problem(seen, lines, console, hung, timeout_s)


def _problem(seen, lines, console, hung, timeout_s):
    """Why a boot failed the check, in one line (None: passed)."""
    failed = [m for m in CHECK_MODULES if m not in seen['loaded']]
    if hung and not lines:
        return 'no answer in %g s (killed)' % timeout_s
    if not lines or lines[-1] != 'end':
        said = console.decode(errors='replace').replace('\r', '').splitlines()
        # a panic's cause, not its call trace
        cause = [l.strip() for l in said if re.search(r'panic|errno|fatal', l, re.I)][:2]
        return 'init never wrote its result (%s)' % '; '.join(
            cause or said[-1:] or ['no output'])[:200]
    if failed:
        return 'modules not loaded: %s%s' % (' '.join(failed), ' (%s)' % seen['errors'][0][:160]
                                             if seen['errors'] else '')
    if not seen['ip_vs']:
        return 'no /proc/net/ip_vs'
    if not seen['openvswitch']:
        return 'no /sys/module/openvswitch'
    return None


def _kill(proc):
    # SIGTERM first: UML's handler kills every host process of that UML
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=5)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


# ---------------------------------------------------------------- fetch

def archive_uri(files=None):
    """The Debian archive the host's own sources name (a local mirror stays the mirror)."""
    if files is None:
        files = APT_SOURCES + sorted(APT_SOURCE_PARTS.glob('*.list')) + sorted(
            APT_SOURCE_PARTS.glob('*.sources'))
    uris = []
    for f in map(Path, files):
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == '.sources':
            for stanza in re.split(r'\n\s*\n', text):
                fields = dict(re.findall(r'^([\w-]+):[ \t]*(.*)$', stanza, re.M))
                if ('deb' in fields.get('Types', '').split()
                        and fields.get('Enabled', 'yes').lower() != 'no'):
                    uris += fields.get('URIs', '').split()
        else:
            uris += re.findall(r'^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)', text, re.M)
    for uri in uris:
        u = urlparse(uri)
        # the main archive, not its -security or -updates neighbours nor a snapshot
        if u.scheme in ('http', 'https') and u.path.rstrip('/').endswith('/debian'):
            return uri.rstrip('/')
    return FALLBACK_URI


class _Apt:
    """apt on a private sources list, lists and cache: the host's apt state is only read."""

    def __init__(self, state):
        self.state = Path(state)
        # Release files past their Valid-Until accepted (kept: the download reads them too)
        self.lenient = (self.state / 'lenient').exists()

    def opts(self):
        s = self.state
        return ['-o', 'Dir::Etc::sourcelist=%s' % (s / 'sources.list'),
                '-o', 'Dir::Etc::sourceparts=-', '-o', 'Dir::State::Lists=%s' % (s / 'lists'),
                '-o', 'Dir::Cache=%s' % (s / 'cache'),
                '-o', 'Dir::State::status=/var/lib/dpkg/status'] + (
                    ['-o', 'Acquire::Check-Valid-Until=false'] if self.lenient else [])

    def run(self, tool, *args, cwd=None):
        p = subprocess.run([tool] + self.opts() + list(args), cwd=cwd, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return p.returncode, p.stdout

    def newest(self, package, uri, log):
        """(version, suite) of package in each suite, newest first."""
        sources = ''.join('deb [signed-by=%s] %s %s main\n' % (KEYRING, uri, s) for s in SUITES)
        listed, known = self.state / 'sources.list', self.state / 'newest.json'
        try:
            if (listed.read_text() == sources
                    and time.time() - known.stat().st_mtime < UPDATE_EVERY_S):
                return [tuple(c) for c in json.loads(known.read_text())[package]]
        except (OSError, ValueError, KeyError):
            pass
        (self.state / 'lists' / 'partial').mkdir(parents=True, exist_ok=True)
        (self.state / 'cache').mkdir(exist_ok=True)
        listed.write_text(sources)
        log('apt-get update (%s: %s)' % (uri, ' '.join(SUITES)))
        rc, out = self.run('apt-get', '-q', 'update')
        if 'is expired' in out:
            # a mirror frozen in time (a snapshot, a registry's copy) serves sid's Release
            # past its Valid-Until; its signature is still checked, only the date is not
            log('apt-get update: a Release file is expired; again without its date check')
            self.lenient = True
            (self.state / 'lenient').touch()
            rc, out = self.run('apt-get', '-q', 'update')
        # apt-get update exits 0 on a suite it could not fetch or verify: its W:/E: lines say
        problems = [l for l in out.splitlines() if l.startswith(('E:', 'W:', 'Err:'))]
        found = self.candidates(package)
        if rc or problems:
            log('apt-get update: %s' % ('; '.join(problems[:3]) or 'exit %d' % rc))
            if not found:
                raise FetchError('%s not found in %s of %s (apt-get update: %s)' % (
                    package, '/'.join(SUITES), uri, (problems or ['exit %d' % rc])[0]))
        elif found:
            known.write_text(json.dumps({package: found}))
        return found

    def forget(self):
        (self.state / 'newest.json').unlink(missing_ok=True)

    def candidates(self, package):
        """(version, suite) of package in each suite."""
        _, out = self.run('apt-cache', 'madison', package)
        found = []
        for line in out.splitlines():
            cols = [c.strip() for c in line.split('|')]
            if len(cols) == 3 and cols[0] == package and 'Packages' in cols[2]:
                suite = cols[2].split()[1].split('/')[0]
                if suite in SUITES:
                    found.append((cols[1], suite))
        # the stable suite wins a tie: it changes less often
        found.sort(key=lambda c: -SUITES.index(c[1]))
        return newest_first(found, key=lambda c: c[0])

    def download(self, specs, into):
        into = Path(into)
        try:    # apt downloads as _apt, which must be able to write there
            os.chown(into, pwd.getpwnam('_apt').pw_uid, -1)
        except (KeyError, OSError):
            pass
        rc, out = self.run('apt-get', '-q', 'download', *specs, cwd=into)
        debs = sorted(into.glob('*.deb'))
        if rc or len(debs) != len(specs):
            last = [l for l in out.splitlines() if l.startswith(('E:', 'W:', 'Err:'))][-1:]
            raise FetchError('apt-get download %s: %s' % (' '.join(specs),
                                                          (last or ['exit %d' % rc])[0]))
        return debs


def _sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def _valid(prefix, version):
    try:
        meta = json.loads((prefix / 'kernel.json').read_text())
        return meta['version'] == version and meta['sha256'] == _sha256(prefix / 'linux.uml')
    except (OSError, ValueError, KeyError):
        return False


def _unpack(debs, prefix):
    """The kernel, its modules and the glibc from the debs, into the prefix's layout."""
    stage = prefix.parent / ('.stage-' + prefix.name)
    shutil.rmtree(stage, ignore_errors=True)
    try:
        for deb in debs:
            subprocess.run(['dpkg-deb', '-x', str(deb), str(stage)], check=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        libc = next((d for d in (stage / 'usr' / LIBDIR, stage / LIBDIR)
                     if (d / LOADER).exists()), None)
        releases = list((stage / 'usr/lib/uml/modules').glob('*'))
        if not (stage / 'usr/bin/linux.uml').is_file() or not libc or len(releases) != 1:
            raise FetchError('unexpected package contents: linux.uml, %s and one modules '
                             'folder expected' % LOADER)
        prefix.mkdir(parents=True)
        (prefix / 'lib').mkdir()
        os.rename(stage / 'usr/bin/linux.uml', prefix / 'linux.uml')
        os.rename(stage / 'usr/lib/uml/modules', prefix / 'modules')
        os.rename(libc, prefix / LIBDIR)
        os.symlink('../modules', prefix / 'lib' / 'modules')
    except subprocess.CalledProcessError as e:
        raise FetchError('dpkg-deb -x %s: %s' % (e.cmd[2], e.stdout.decode(errors='replace')
                                                 .strip()[-160:]))
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _need_patchelf():
    if not shutil.which('patchelf'):
        raise FetchError('patchelf is missing: apt-get install patchelf')


def _patch(prefix):
    """Point the kernel at its own glibc. Not `ld.so --library-path linux.uml`: UML
    re-executes itself through /proc/self/exe, which would lose the library path."""
    _need_patchelf()
    lib = prefix / LIBDIR
    p = subprocess.run(['patchelf', '--set-interpreter', str(lib / LOADER), '--set-rpath',
                        str(lib), str(prefix / 'linux.uml')],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode:
        raise FetchError('patchelf: %s' % p.stdout.strip()[-160:])


def install(prefix, version, suite, log=print):
    """Patch, check, and only then describe (kernel.json) an unpacked prefix; older
    prefixes go once this one passed. The kernel, or CheckError."""
    _patch(prefix)
    started = time.monotonic()
    seen = check(prefix)
    log('checked in %.1f s (seccomp %s)' % (time.monotonic() - started,
                                            'on' if seen['seccomp'] else 'off'))
    meta = {'package': PACKAGE, 'version': version, 'suite': suite, 'release': seen['release'],
            'sha256': _sha256(prefix / 'linux.uml'), 'seccomp': seen['seccomp'],
            'checked': datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec='seconds'),
            'check': seen}
    tmp = prefix / '.kernel.json.tmp'
    with open(tmp, 'w') as f:
        json.dump(meta, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, prefix / 'kernel.json')
    for old in prefix.parent.iterdir():
        if (old.is_dir() and not old.name.startswith('.') and old != prefix
                and version_cmp(old.name, version) < 0):
            log('removing %s' % old)
            shutil.rmtree(old, ignore_errors=True)
    return _from_prefix(prefix)


def fetch(log=print):
    """The newest UML kernel of Debian's archive (suites sid, trixie), fetched,
    patched and checked into ROOT/<version>/ (nothing done if already there):
    the kernel, or FetchError (CheckError if it did not pass its boot check)."""
    if subprocess.run(['dpkg', '--print-architecture'], stdout=subprocess.PIPE,
                      text=True).stdout.strip() != 'amd64':
        raise FetchError('only amd64 is supported')
    ROOT.mkdir(parents=True, exist_ok=True)
    with open(ROOT / '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)     # two set-ups at once would unpack over each other
        apt = _Apt(ROOT / '.apt')
        uri = archive_uri()
        found = apt.newest(PACKAGE, uri, log)
        if not found:
            raise FetchError('%s not found in %s of %s' % (PACKAGE, '/'.join(SUITES), uri))
        failed = []
        # the newest first; one that cannot boot here (6.12 and older panic on CPUs with
        # AMX) gives way to the next
        for version, suite in found:
            try:
                return _fetch_one(apt, version, suite, log)
            except CheckError as e:
                log(str(e))
                failed.append(e)
        raise failed[0]


def _fetch_one(apt, version, suite, log):
    prefix = ROOT / version
    if _valid(prefix, version):
        log('%s %s already fetched and checked' % (PACKAGE, version))
        return _from_prefix(prefix)
    _need_patchelf()                                # before 38 MB are downloaded
    shutil.rmtree(prefix, ignore_errors=True)       # a half-fetched one
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=ROOT, prefix='.download-') as tmp:
        try:
            debs = apt.download(['%s=%s' % (PACKAGE, version), 'libc6/%s' % suite], tmp)
        except FetchError:
            apt.forget()    # sid may have moved on since: ask the archive next time
            raise
        _unpack(debs, prefix)
    log('fetched %s %s (%s) in %.1f s' % (PACKAGE, version, suite, time.monotonic() - started))
    try:
        return install(prefix, version, suite, log)
    except FetchError:
        # not usable: nothing of it stays (a newer upload is tried on the next set-up)
        shutil.rmtree(prefix, ignore_errors=True)
        raise


# ---------------------------------------------------------------- command line

def _describe(k):
    return '%s (release %s, %s, seccomp %s, %s)' % (k.version, k.release, k.source,
                                                    'on' if k.seccomp else 'off', k.binary)


def main(argv=None):
    p = argparse.ArgumentParser(prog='python3 -m topo.kernels.uml_kernels',
                                description="UML kernels: Debian 12's own and the newest "
                                            "of Debian's archive (fetched to %s)" % ROOT)
    p.add_argument('command', choices=['setup', 'list'])
    p.add_argument('-v', '--verbose', action='store_true', help='say what setup does')
    args = p.parse_args(argv)
    if args.command == 'list':
        kernels = available() + [k for k in [debian()] if k]
        for i, k in enumerate(kernels):
            problem = debian_problem() if k.source == 'debian' else None
            print('%s %s%s' % ('*' if i == 0 and not problem else ' ', _describe(k),
                               ': cannot run here, %s' % problem if problem else ''))
        if not kernels:
            print('no UML kernel: apt-get install user-mode-linux, or setup')
        return 0 if kernels else 1
    log = (lambda m: print(m, file=sys.stderr)) if args.verbose else lambda m: None
    own = check_debian(log)
    if own and not own['passed']:
        print("UML kernel: Debian 12's own (%s) cannot run on this host: %s"
              % (own['version'], own['reason']))
    try:
        k = fetch(log=log)
        meta = json.loads(Path(k.binary).with_name('kernel.json').read_text())
        print('UML kernel: %s (%s, seccomp %s), sha256 %s' % (
            k.version, meta['suite'], 'on' if k.seccomp else 'off', meta['sha256'][:12]))
        return 0
    except FetchError as e:
        reason = str(e)
    fallback = next(iter(available()), None)
    if fallback:
        print("UML kernel: the newest from Debian's archive could not be used (%s); the "
              'testbed uses %s, fetched earlier' % (reason, fallback.version))
        return 0
    own = debian()
    if own and debian_problem():
        print("UML kernel: the newest from Debian's archive could not be used (%s), and "
              "Debian 12's own cannot run here: no uml mode on this host" % reason)
        return 1
    print("UML kernel: the newest from Debian's archive could not be used (%s); the testbed "
          "uses Debian 12's own (%s)" % (reason, own.version if own else
                                         'not installed: apt-get install user-mode-linux'))
    return 0 if own else 1


if __name__ == '__main__':
    sys.exit(main())
