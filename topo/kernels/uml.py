"""User-Mode Linux: the command re-runs itself inside Debian's UML kernel, which
carries IPVS and Open vSwitch as modules, for hosts whose kernel has neither.

UML boots with the host's root filesystem (hostfs) and tmpfs over every runtime
directory, so results land in the host's results folder while nothing else of
the host is written. Each run has a kernel of its own: two runs at once do not
meet.
"""
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from topo.kernels import PLACEMENT_ENV, RUN_ENV, UML_KERNEL_ENV, KernelMode, register
from topo.kernels import uml_kernels
from topo.kernels.native import MODULES, native_missing
from topo.network.config import TUN_MODULES

UML_KERNEL = str(uml_kernels.DEBIAN_BINARY)
UML_MODULES = uml_kernels.DEBIAN_MODULES
KERNEL_ENV = 'HATESTBED_UML_KERNEL'     # --uml-kernel's default
# (tunnelling's GUE and GRE receivers too: natively loaded only when a run needs them)
KERNEL_MODULES = MODULES + sorted(TUN_MODULES.values())
# Directories made private (tmpfs) inside UML so the host's copies stay untouched.
UML_TMPFS = ['/run', '/var/log', '/tmp', '/etc/openvswitch',
             '/var/lib/openvswitch', '/dev/shm']
INNER_MARK = '== inside UML kernel =='
STOP_ENV = 'HATESTBED_STOP_FILE'
# what UML's kernel says as it powers off, after the command's own output
POWER_OFF_LINES = ('sysrq: ', 'reboot: ')
CPU_ENV = 'HATESTBED_UML_CPU'
CONNTRACK_DEFAULT, CONNTRACK_MAX = 8192, 262144


def running_in_uml():
    try:
        return 'User Mode Linux' in Path('/proc/cpuinfo').read_text()
    except OSError:
        return False


def uml_missing(requested='auto'):
    try:
        kernel = uml_kernels.choose(requested)
    except uml_kernels.KernelChoiceError as e:
        return str(e)
    if not any(Path(kernel.modules).glob('kernel/net/netfilter/ipvs/ip_vs.ko*')):
        return 'UML modules with IPVS not found in %s' % kernel.modules
    return None


def describe(kernel):
    """How a run names its UML kernel: release, package version, where from, syscall mode."""
    return 'UML %s (%s %s%s, %s)' % (
        kernel.release, uml_kernels.PACKAGE, kernel.version,
        {'debian': ", Debian 12's own", 'fetched': ', fetched'}.get(kernel.source, ''),
        'seccomp' if kernel.seccomp else 'ptrace')


@register
class UML(KernelMode):
    name = 'uml'
    description = "inside Debian's User-Mode-Linux kernel"
    sandbox = True
    rank = 1
    package = 'user-mode-linux'

    @classmethod
    def add_arguments(cls, group):
        group.add_argument('--uml-kernel', default=os.environ.get(KERNEL_ENV, 'auto'),
                           metavar='auto|debian|PATH',
                           help="the UML kernel: auto takes the newest that passed its boot "
                                "check (the set-up fetches the newest of Debian's archive, "
                                "run with seccomp=on where it boots so), debian Debian 12's "
                                "own (%s), PATH a kernel folder made by `python3 -m "
                                "topo.kernels.uml_kernels setup` (uml mode; env %s)"
                                % (UML_KERNEL, KERNEL_ENV))
        group.add_argument('--uml-mem', type=int, default=1024, metavar='MB',
                           help='memory of the UML kernel (uml mode)')
        group.add_argument('--uml-cpu', default=os.environ.get(CPU_ENV, 'auto'),
                           type=_cpu_choice, metavar='auto|off|N',
                           help='host CPU the UML kernel runs on: auto picks one no other '
                                'UML is pinned to (else none); off lets the host move its '
                                'threads between CPUs, which makes every process start in '
                                'UML about 1.3-3x slower (uml mode; env %s)' % CPU_ENV)

    @classmethod
    def is_current(cls):
        return running_in_uml()

    @classmethod
    def missing(cls):
        problem = uml_missing()
        return [problem] if problem else []

    def __init__(self, args):
        KernelMode.__init__(self, args)
        requested = getattr(args, 'uml_kernel', None) or 'auto'
        problem = uml_missing(requested)
        if problem:
            from topo.kernels import SandboxError
            raise SandboxError('uml mode cannot run with --uml-kernel %s: %s'
                               % (requested, problem))
        self.kernel = uml_kernels.choose(requested)

    @classmethod
    def packages(cls):
        # only where the running kernel cannot: an ordinary host needs no UML. patchelf
        # points a fetched kernel at its own glibc (topo/kernels/uml_kernels.py)
        return [cls.package, 'patchelf'] if native_missing() else []

    def announce(self, auto):
        why = ', '.join(native_missing()) or 'asked for'
        return ('kernel mode: uml, %s (running kernel: %s missing; re-running inside '
                'User-Mode Linux)' % (describe(self.kernel), why) if auto
                else 'kernel mode: uml, %s (--sandbox uml)' % describe(self.kernel))

    def enter(self, argv, env, host_dirs=()):
        return run_in_uml(argv, mem_mb=self.args.uml_mem, env=env, host_dirs=host_dirs,
                          cpu=getattr(self.args, 'uml_cpu', 'auto'), kernel=self.kernel)

    def inside(self):
        watch_stop_request()


def _init_script(argv, cwd, status_file, env, host_dirs=(), modules_root=UML_MODULES):
    """Shell script UML runs as PID 1: private runtime dirs, modules, the command, power-off.

    host_dirs that the private runtime dirs would hide (a results folder in
    /tmp) are mounted from the host again (hostfs), at the same path.
    """
    # Only directories the host already has: hostfs must not gain new ones.
    mounts = '\n'.join('[ -d %s ] && mount -t tmpfs tmpfs %s' % (d, d)
                       for d in UML_TMPFS if d != '/dev/shm')
    for d in host_dirs:
        if private_inside(d):
            q = shlex.quote(os.path.realpath(d))
            mounts += '\nmkdir -p %s && mount -t hostfs -o %s none %s' % (q, q, q)
    exports = '\n'.join('export %s=%s' % (k, shlex.quote(v)) for k, v in env.items())
    return f"""#!/bin/sh
# PID 1 of the UML sandbox (generated by topo/sandbox.py); must never exit.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
{mounts}
echo 1 > /proc/sys/kernel/printk
hostname uml
ip link set lo up
# The UML modules are made visible under a private module root, with a
# modprobe wrapper for both the kernel's autoload and our own calls.
R=/run/hatestbed
mkdir -p $R/bin $R/mod/lib/modules/$(uname -r)
mount --bind {modules_root}/$(uname -r) $R/mod/lib/modules/$(uname -r)
printf '#!/bin/sh\\nexec /sbin/modprobe -d {'/run/hatestbed/mod'} "$@"\\n' > $R/bin/modprobe
chmod +x $R/bin/modprobe
echo $R/bin/modprobe > /proc/sys/kernel/modprobe
export PATH=$R/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM={os.environ.get('TERM', 'dumb')}
{exports}
for m in {' '.join(KERNEL_MODULES)}; do $R/bin/modprobe $m; done
# conntrack sizes itself from memory: 1 GB gives {CONNTRACK_DEFAULT} entries per namespace,
# which a client's connections in TIME_WAIT (120 s) fill, and new SYNs are dropped
# before they leave it; a native host with 4 GB or more has {CONNTRACK_MAX}
$R/bin/modprobe nf_conntrack
echo {CONNTRACK_MAX} > /proc/sys/net/netfilter/nf_conntrack_buckets
echo {CONNTRACK_MAX} > /proc/sys/net/netfilter/nf_conntrack_max
cd {shlex.quote(cwd)}
echo '{INNER_MARK}'
if [ -t 0 ]; then
  setsid -c {' '.join(shlex.quote(a) for a in argv)} </dev/tty0 >/dev/tty0 2>&1
else
  {' '.join(shlex.quote(a) for a in argv)} </dev/null
fi
echo $? > {shlex.quote(status_file)}
sync
echo o > /proc/sysrq-trigger
sleep 60
"""


def run_in_uml(argv, mem_mb=1024, grace_s=60, env=None, host_dirs=(), cpu='auto', kernel=None):
    """Run argv (an experiment command) inside UML; stream its output; return its exit status.

    Ctrl-C or SIGTERM asks the command inside to stop (it tears its cluster
    down and marks its results incomplete); after grace_s the UML is killed.
    """
    from topo.kernels import run_id
    kernel = kernel or uml_kernels.choose('auto')
    cwd = os.getcwd()
    cpu = _choose_cpu(cpu)
    _remove_stale_workdirs()
    # named by the run's id ("<pid>.<hex>"): its leak check finds it, and only it
    work = '/var/tmp/hatestbed-uml.%s' % run_id()
    os.mkdir(work, 0o700)
    status_file = os.path.join(work, 'status')
    stop_file = os.path.join(work, 'stop')
    init = os.path.join(work, 'init.sh')
    env = dict(env or {}, **{STOP_ENV: stop_file})
    for key in ('HATESTBED_DEBUG', 'PYTHONUNBUFFERED', 'PYTHONPATH', RUN_ENV,
                'HATESTBED_OVS_OWN_CLOCK'):
        if key in os.environ:
            env[key] = os.environ[key]
    env.setdefault('PYTHONUNBUFFERED', '1')
    env[PLACEMENT_ENV] = 'unpinned' if cpu is None else 'cpu %d' % cpu
    env[UML_KERNEL_ENV] = json.dumps(kernel_record(kernel))
    print('[sandbox] %s, %s' % (describe(kernel), 'unpinned' if cpu is None
                                else 'pinned to CPU %d' % cpu), flush=True)
    Path(init).write_text(_init_script(argv, cwd, status_file, env, host_dirs,
                                       kernel.modules_root))
    os.chmod(init, 0o700)
    cmd = [kernel.binary, 'root=/dev/root', 'rootfstype=hostfs', 'rootflags=/', 'rw',
           'mem=%dM' % mem_mb, 'init=' + init, 'con=null', 'con0=fd:0,fd:1', 'quiet'] \
        + kernel.boot_args()
    # CI may run us with no standard input at all (sys.stdin is then None)
    interactive = all(f is not None and f.isatty() for f in (sys.stdin, sys.stdout))
    saved_tty = termios.tcgetattr(sys.stdin.fileno()) if interactive else None
    # UML keeps its own session: a terminal's signals reach the command inside
    # through the console, not the UML process (which would die on SIGINT).
    proc = subprocess.Popen(cmd, stdin=None if interactive else subprocess.DEVNULL,
                            preexec_fn=lambda: _die_with_parent(cpu),
                            stdout=None if interactive else subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            env={'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
                                 'TMPDIR': uml_kernels.memory_dir(work), 'HOME': work,
                                 RUN_ENV: env[RUN_ENV]})
    stopping = {'since': None}

    def request_stop(signum, _frame):
        if stopping['since'] is None:
            print('\n[sandbox] %s: asking the run inside UML to stop and tear down'
                  % signal.Signals(signum).name, file=sys.stderr, flush=True)
            Path(stop_file).touch()
            stopping['since'] = time.monotonic()
    old = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    pump = None
    if not interactive:
        pump = threading.Thread(target=_pump_output, args=(proc.stdout,), daemon=True)
        pump.start()
    try:
        while proc.poll() is None:
            if stopping['since'] is not None and time.monotonic() - stopping['since'] > grace_s:
                print('[sandbox] no clean stop after %ds: killing UML' % grace_s, file=sys.stderr)
                break
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            _kill_group(proc)
        if pump:
            pump.join(timeout=5)
        if saved_tty:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved_tty)
        for s, h in old.items():
            signal.signal(s, h)
    try:
        status = int(Path(status_file).read_text().strip())
    except (OSError, ValueError):
        print('[sandbox] UML ended without an exit status from the run (exit code %s)'
              % proc.returncode, file=sys.stderr)
        status = 130 if stopping['since'] else 1
    shutil.rmtree(work, ignore_errors=True)
    return status


def kernel_record(kernel):
    """What a summary says of its UML kernel (uml_kernel in its header)."""
    return {'release': kernel.release, 'package': uml_kernels.PACKAGE,
            'version': kernel.version, 'source': kernel.source, 'binary': kernel.binary,
            'syscalls': 'seccomp' if kernel.seccomp else 'ptrace'}


def _remove_stale_workdirs():
    """Work dirs of wrappers that were SIGKILLed (their UML died with them)."""
    for path in Path('/var/tmp').glob('hatestbed-uml.*.*'):
        try:
            os.kill(int(path.name.split('.')[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, PermissionError):
            pass


def _die_with_parent(cpu=None):
    """UML gets SIGTERM (its clean exit) if this wrapper dies, even by SIGKILL.

    With cpu, UML and every host process it starts stay on that one CPU."""
    import ctypes
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _cpu_choice(value):
    """--uml-cpu's value, checked before anything starts."""
    import argparse
    allowed = sorted(os.sched_getaffinity(0))
    if value in ('auto', 'off') or (value.isdigit() and int(value) in allowed):
        return value
    raise argparse.ArgumentTypeError('auto, off or one of the CPUs %s, not %r'
                                     % (','.join(map(str, allowed)), value))


def _choose_cpu(requested):
    """The host CPU for this UML (None: unpinned).

    UML runs each guest process as a host process that its kernel process
    ptrace()s: every guest system call and page fault is a stop and a wake-up
    between the two. Unpinned, the host puts them on different CPUs and each
    wake-up is an inter-processor interrupt to an idle (halted) virtual CPU;
    on one CPU it is a plain context switch (measured: 99,000 IPIs against 385
    for 500 process starts; a heartbeat failover 9-11 s against 13-14 s). UML's
    kernel is uniprocessor (one guest process runs at a time), so one CPU costs it
    no parallelism. But two UMLs on one CPU took twice as long as two unpinned, so
    auto takes a CPU no other UML is pinned to (the least busy of them), or none.
    """
    if requested in (None, '', 'off'):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if requested != 'auto':
        return int(requested)
    if len(allowed) < 2:
        return None
    umls = {c: set() for c in allowed}     # CPU -> sessions of UMLs pinned to it
    for proc in Path('/proc').glob('[0-9]*'):
        try:
            # any UML kernel: Debian 12's, a fetched one, the machines'
            if os.path.basename((proc / 'cmdline').read_bytes().split(b'\0')[0]) != b'linux.uml':
                continue
            cpus = os.sched_getaffinity(int(proc.name))
            session = os.getsid(int(proc.name))
        except (OSError, ValueError):
            continue
        if len(cpus) == 1 and cpus <= umls.keys():
            umls[next(iter(cpus))].add(session)

    def busy():
        with open('/proc/stat') as f:
            rows = [l.split() for l in f if l.startswith('cpu') and l[3].isdigit()]
        # user nice system irq softirq steal: the time a CPU was not free
        return {int(r[0][3:]): sum(int(r[i]) for i in (1, 2, 3, 6, 7, 8)) for r in rows}
    before = busy()
    time.sleep(0.3)
    after = busy()
    free = [c for c in allowed if not umls[c]]
    return min(free, key=lambda c: after.get(c, 0) - before.get(c, 0)) if free else None


def private_inside(path):
    """The UML-private directory that would hide path from the host, or None."""
    p = os.path.realpath(path)
    for d in UML_TMPFS:
        if p == d or p.startswith(d.rstrip('/') + '/'):
            return d
    return None


def _pump_output(stream):
    """Copy UML's console to our stdout, dropping the kernel's boot chatter."""
    inside = bool(os.environ.get('HATESTBED_DEBUG'))
    for raw in iter(stream.readline, b''):
        line = raw.decode('utf-8', 'replace').replace('\r', '')
        if not inside:
            inside = INNER_MARK in line
            continue
        if line.startswith(POWER_OFF_LINES):
            continue
        sys.stdout.write(line)
        sys.stdout.flush()


def _kill_group(proc):
    # SIGTERM first: UML's handler kills every host process of that UML.
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def watch_stop_request(poll_s=0.5):
    """Inside UML: turn the host's stop request (a file on hostfs) into SIGTERM."""
    path = os.environ.get(STOP_ENV)
    if not path:
        return

    def watch():
        while not os.path.exists(path):
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, name='stop-watch', daemon=True).start()
