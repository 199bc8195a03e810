"""Steps every experiment shares: the interpreter, the common flags, checks made
before anything starts, the kernel mode, the results folder and its summary.

Nothing here imports Mininet at module level: the checks must be able to say
what is missing before any of it is imported.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A checkout keeps its runs in its own results/; an installed copy in ./results.
RESULTS = ROOT / 'results' if (ROOT / 'setup.py').exists() else Path.cwd() / 'results'
SYSTEM_PYTHON = '/usr/bin/python3'
SETUP_HINT = './testbed setup'

# What each part of the testbed needs: (kind, name, Debian package).
NEEDS = {
    'cluster': [('cmd', 'mnexec', 'mininet'), ('py', 'mininet', 'mininet'),
                ('cmd', 'ovs-vsctl', 'openvswitch-switch'),
                ('cmd', 'ovs-vswitchd', 'openvswitch-switch'),
                ('cmd', 'ovsdb-server', 'openvswitch-switch'),
                ('cmd', 'ipvsadm', 'ipvsadm'), ('py', 'requests', 'python3-requests'),
                ('cmd', 'ping', 'iputils-ping'), ('file', '/etc/services', 'netbase')],
    'controller': [('cmd', 'osken-manager|ryu-manager', 'python3-os-ken')],
    'plots': [('py', 'pandas', 'python3-pandas'), ('py', 'matplotlib', 'python3-matplotlib')],
}


class UsageError(Exception):
    """Bad input or an unusable machine: reported before anything is started."""


def use_system_python():
    """Re-run under Debian's python3 when the current one cannot see its packages.

    `sudo python3 experiments/x.py` may find a pyenv or venv python3 first;
    mininet and os_ken are Debian packages of /usr/bin/python3.
    """
    try:
        import mininet  # noqa: F401 (importable: nothing to do)
        return
    except ImportError:
        pass
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) \
            and os.path.exists(SYSTEM_PYTHON):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except the empty ones that the help text explains."""

    def _get_help_string(self, action):
        if action.default in (None, False) or action.default is argparse.SUPPRESS:
            return action.help
        return argparse.ArgumentDefaultsHelpFormatter._get_help_string(self, action)


def base_parser(description, results=True):
    p = argparse.ArgumentParser(description=description, formatter_class=_HelpFormatter)
    g = p.add_argument_group('kernel')
    g.add_argument('--sandbox', choices=('auto', 'native', 'uml'), default='auto',
                   help='native: the running kernel (needs IPVS and OVS); uml: inside '
                        "Debian's User-Mode-Linux kernel; auto: native when possible")
    g.add_argument('--uml-mem', type=int, default=1024, metavar='MB',
                   help='memory of the UML kernel (uml mode)')
    if results:
        p.add_argument('--results', metavar='DIR',
                       help='results folder (new or empty); default: a new timestamped '
                            'folder under results/')
    return p


def add_cluster_args(p, weights_default=None, scheduler=True):
    """The cluster's flags; scheduler=False for experiments that choose it themselves."""
    g = p.add_argument_group('cluster')
    g.add_argument('--servers', type=int, default=3, help='number of real servers (laico2..)')
    g.add_argument('--weights', default=weights_default,
                   help='comma-separated weights, one per real server (default: 1 each)')
    if scheduler:
        g.add_argument('--scheduler', default='rr', help='IPVS scheduler: rr, wrr, lc, wlc')
    g.add_argument('--vip', default='10.0.14.146', help='virtual IP, inside --subnet')
    g.add_argument('--subnet', default='10.0.14.0/24', help="the testbed's own subnet")
    g.add_argument('--crossover', action='store_true',
                   help='a second path between the directors (a crossover cable): heartbeat '
                        'broadcasts on both links, keepalived sends its VRRP adverts over it')
    return g


def cluster_config(args):
    from topo.network.config import ClusterConfig, parse_weights
    weights = parse_weights(args.weights) if args.weights else None
    return ClusterConfig(servers=args.servers, weights=weights, scheduler=args.scheduler,
                         vip=args.vip, subnet=args.subnet,
                         crossover=getattr(args, 'crossover', False))


def require_root():
    if os.geteuid() != 0:
        raise UsageError('the testbed creates network namespaces and loads kernel modules: '
                         'run it as root (sudo %s)' % ' '.join(['python3'] + sys.argv))


def missing_packages(parts, needs=()):
    """[(what, package)] for everything the given parts need but this machine lacks."""
    import importlib.util
    missing = []
    for kind, name, package in [n for part in parts for n in NEEDS[part]] + list(needs):
        if kind == 'cmd':
            ok = any(shutil.which(n) for n in name.split('|'))
        elif kind == 'py':
            ok = importlib.util.find_spec(name) is not None
        else:
            ok = os.path.exists(name)
        if not ok and (name, package) not in missing:
            missing.append((name, package))
    return missing


def preflight(parts, needs=()):
    missing = missing_packages(parts, needs)
    if missing:
        packages = sorted({p for _, p in missing})
        raise UsageError('missing: %s.\nInstall with: %s   (or: apt-get install %s)'
                         % (', '.join('%s (%s)' % m for m in missing), SETUP_HINT,
                            ' '.join(packages)))


def new_results_dir(experiment, requested=None):
    """A results folder that no earlier run wrote to; results/latest points at it."""
    if requested:
        path = Path(requested).resolve()
        if path.exists() and any(path.iterdir()):
            raise UsageError('results folder %s is not empty: results are never overwritten; '
                             'choose a new folder' % path)
        path.mkdir(parents=True, exist_ok=True)
        return path
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    for n in range(100):
        path = RESULTS / ('%s-%s%s' % (stamp, experiment, '-%d' % n if n else ''))
        try:
            path.mkdir()
            break
        except FileExistsError:
            continue
    latest = RESULTS / 'latest'
    tmp = RESULTS / ('.latest.%d' % os.getpid())
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(path.name)
    os.replace(tmp, latest)
    return path


class Summary:
    """summary.json (or another name), rewritten after every stage.

    It says "complete": false until finish(): an interrupted or killed run
    keeps what it measured and says it is incomplete.
    """

    unfinished = []     # summaries of this run that run() marks interrupted on Ctrl-C

    def __init__(self, path, **fields):
        Summary.unfinished.append(self)
        self.path = Path(path)
        self.data = dict(fields, complete=False)
        self.started = time.monotonic()
        self.write()

    def update(self, **fields):
        self.data.update(fields)
        self.write()

    def write(self):
        self.data['elapsed_s'] = round(time.monotonic() - self.started, 2)
        tmp = self.path.with_suffix('.tmp')
        tmp.write_text(json.dumps(self.data, indent=2, default=str) + '\n')
        os.replace(tmp, self.path)

    def finish(self, **fields):
        self.data.update(fields, complete=True)
        self.write()
        if self in Summary.unfinished:
            Summary.unfinished.remove(self)

    def interrupted(self, reason):
        self.data.update(complete=False, interrupted=reason)
        self.write()


def _raise_stop(signum, _frame):
    from topo.sandbox import StopRequested
    raise StopRequested(signal.Signals(signum).name)


CHECKED_ENV = 'HATESTBED_CHECKED'     # set for the run inside UML: already checked outside


def check_stacks(stacks):
    """Each HA stack's generated configs, judged by its own daemons (heartbeat,
    ldirectord, keepalived -t), before anything starts."""
    from topo import ha
    for stack in stacks:
        ha.check_configs(stack)


def run(args, parts, experiment, body, results=True, stacks=(), needs=(), host_files=()):
    """Check everything, pick the kernel mode, then run body(results_dir) there.

    In uml mode this process re-runs its own command inside UML and returns
    that run's exit status; the results folder and host_files (paths the
    command reads) are made visible inside it even where UML keeps its own
    (e.g. /tmp). Returns an exit status.
    """
    from topo import sandbox
    from topo.network.config import ConfigError
    try:
        require_root()
        preflight(parts + ['controller'], list(needs) + [n for s in stacks for n in s.needs])
        mode = sandbox.choose_mode(args.sandbox)    # also says what uml mode would lack
        if not os.environ.get(CHECKED_ENV):
            check_stacks(stacks)
        requested = getattr(args, 'results', None) if results else None
        out = new_results_dir(experiment, requested) if results else None
    except (UsageError, ConfigError, sandbox.SandboxError) as e:
        print('error: %s' % e, file=sys.stderr)
        return 2
    if mode == 'uml':
        why = ', '.join(sandbox.native_missing()) or 'asked for'
        print('kernel mode: uml (running kernel: %s missing; re-running inside '
              "Debian's User-Mode-Linux kernel)" % why if args.sandbox == 'auto'
              else 'kernel mode: uml (--sandbox uml)', flush=True)
        argv = [SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable,
                os.path.abspath(sys.argv[0])] + sys.argv[1:]
        if out:
            argv += ['--results', str(out)]
        shown = [p for p in [out] + [Path(f).resolve().parent for f in host_files] if p]
        return sandbox.run_in_uml(argv, mem_mb=args.uml_mem, env={CHECKED_ENV: '1'},
                                  host_dirs=[str(p) for p in shown])
    print('kernel mode: %s (%s)' % (sandbox.kernel_mode(), os.uname().release), flush=True)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _raise_stop)
    sandbox.watch_stop_request()
    try:
        return body(out)
    except (KeyboardInterrupt, sandbox.StopRequested) as e:
        for summary in Summary.unfinished:
            summary.interrupted(str(e) or 'SIGINT')
        print('\ninterrupted: the cluster was torn down; results so far are in %s '
              '(marked incomplete)' % out, file=sys.stderr)
        return 130


def plot_command(description, what, plot, files, argv=None):
    """The command line of a plot script: plot(results folder), say what it wrote."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument('results', help='results folder of %s' % what)
    a = p.parse_args(argv)
    try:
        plot(a.results)
    except (OSError, ValueError, KeyError) as e:
        print('error: %s' % e, file=sys.stderr)
        return 2
    print('plots written: %s' % ', '.join(str(Path(a.results) / f) for f in files))
    return 0


def stage(text):
    """One progress line per stage, with the time since the run started."""
    print('[%6.1fs] %s' % (time.monotonic() - _T0, text), flush=True)


_T0 = time.monotonic()
