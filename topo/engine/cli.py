"""What every experiment script does around its scenario: its command line (the
shared flags, every flag checked before anything starts), the checks of the
machine, the kernel mode, the results folder, and the run itself with a clean
teardown on Ctrl-C or SIGTERM.

    args, plan = parse_args(argv)         # the script's flags, checked, and its Plan
    return execute(args, plan, body)      # body(results folder) -> exit status;
                                          # --plan prints the plan instead

Nothing here imports Mininet: the checks must be able to say what is missing
before any of it is imported.
"""
import argparse
import json
import os
import signal
import sys
from pathlib import Path

from topo import kernels, packages
from topo.engine.results import Summary, UsageError, new_results_dir
from topo.network.config import ConfigError

SYSTEM_PYTHON = '/usr/bin/python3'
SETUP_HINT = './testbed setup'
CHECKED_ENV = 'HATESTBED_CHECKED'     # set for the run inside a sandbox: checked outside


def use_system_python():
    """Re-run under Debian's python3 when the current one cannot see its packages.

    `sudo python3 experiments/x.py` may find a pyenv or venv python3 first;
    mininet and os_ken are Debian packages of /usr/bin/python3.
    """
    import importlib.util
    if importlib.util.find_spec('mininet') is not None:   # (found, not imported: a run
        return                                            # on real machines never does)
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) \
            and os.path.exists(SYSTEM_PYTHON):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except the empty ones that the help text explains."""

    def _get_help_string(self, action):
        if action.default in (None, False) or action.default is argparse.SUPPRESS:
            return action.help
        return argparse.ArgumentDefaultsHelpFormatter._get_help_string(self, action)


def path_arg(text):
    """argparse type of every path flag: absolute from the directory the command was run
    in, so it means the same after a re-execution (sudo, UML, Debian's python) and to
    Ansible, which resolves a relative path against its roles' folders."""
    return os.path.abspath(os.path.expanduser(text))


def positive(kind):
    """argparse type: a number of that kind above 0 (argparse names the flag)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError('a positive %s, got %r' % (
                'whole number' if kind is int else 'number', text))
        return value
    parse.__name__ = 'positive %s' % kind.__name__
    return parse


def base_parser(description, results=True):
    """The flags every experiment shares, --target INVENTORY among them: every experiment
    also runs on real machines, or says before anything starts what they cannot do."""
    p = argparse.ArgumentParser(description=description, formatter_class=_HelpFormatter)
    kernels.add_arguments(p)
    p.add_argument('--target', metavar='INVENTORY', type=path_arg,
                   help='run on the machines of this inventory (topo/backends/machines/'
                        'inventory.py; deployed with experiments/deploy.py), reached over '
                        'SSH, instead of the emulation: the cluster\'s machines, addresses '
                        'and VIP come from the inventory')
    if results:
        p.add_argument('--results', metavar='DIR', type=path_arg,
                       help='results folder (new or empty); default: a new timestamped '
                            'folder under results/')
    p.add_argument('--plan', action='store_true', dest='show_plan',
                   help='print what this command would run (the header of its summary.json, '
                        'and its cells) and exit without starting anything')
    return p


def add_address_args(g):
    """The service's addresses: its VIP's family (--vip, --dual-stack), DAD, --subnet."""
    from topo.network.config import SUBNET6
    g.add_argument('--vip', default='10.0.14.146',
                   help='virtual IP, inside --subnet; an IPv6 one (e.g. 2001:db8:14::146) makes '
                        'the service IPv6: the VIP, the real servers in IPVS, the health checks '
                        'and the client (each node\'s IPv6 address reads as its IPv4 one: '
                        'laico2 is <prefix>::12); every forwarding method (NAT: the real '
                        'servers and their gateway inside in IPv6 too)')
    g.add_argument('--dual-stack', action='store_true',
                   help='serve a VIP of each family at once (10.0.14.146 and '
                        '2001:db8:14::146: the same host number), a virtual service each, '
                        'moved together; the invariants and the client follow --vip')
    g.add_argument('--vip-dad', choices=('on', 'off'),
                   help='an IPv6 VIP: its new owner runs duplicate address detection on it '
                        '(on: a second before it is usable) or not (off); default: as the '
                        'stack does (keepalived and heartbeat\'s lean resource skip it, '
                        'Pacemaker\'s IPaddr2 waits it out)')
    g.add_argument('--subnet', action='append', metavar='PREFIX',
                   help="the testbed's own subnet (default 10.0.14.0/24); give it again with "
                        'an IPv6 /64 for an IPv6 VIP (default %s)' % SUBNET6)


def add_cluster_args(p, weights_default=None, scheduler=True, crossover=True,
                     active_active=False):
    """The cluster's flags; scheduler=False for experiments that choose it themselves,
    crossover=False for those without an HA stack (nothing would use the cable),
    active_active=True for those that measure both directors serving at once."""
    g = p.add_argument_group('cluster')
    g.add_argument('--servers', type=int, default=3, help='number of real servers (laico2..)')
    g.add_argument('--weights', default=weights_default,
                   help='comma-separated weights, one per real server (default: 1 each)')
    if scheduler:
        g.add_argument('--scheduler', default='rr',
                       help='IPVS scheduler: rr, wrr, lc, wlc (the paper\'s), sh (source '
                            'hashing), mh (Maglev hashing, Linux >= 4.18)')
        g.add_argument('--sched-flags', default='', metavar='FLAGS',
                       help='the hashing scheduler\'s flags, as ipvsadm -b writes them: '
                            'mh-port,mh-fallback (sh-port,sh-fallback); -port hashes the '
                            'source port too, -fallback passes over a server of weight 0')
    g.add_argument('--sloppy-tcp', action='store_true',
                   help='the directors take up a TCP connection in mid-flow, not only from '
                        'its SYN (net.ipv4.vs.sloppy_tcp and sloppy_sctp): with sh or mh a '
                        'connection can move to the other director, no sync daemon needed')
    add_address_args(g)
    g.add_argument('--vip-announce', choices=('sent', 'lost'), default='sent',
                   help='lost: the hub drops every announcement of the VIP by its new owner '
                        '(gratuitous ARP; IPv6: unsolicited Neighbour Advertisements), as if '
                        'lost or never sent: the client keeps sending to the old owner until '
                        'its neighbour entry times out and its probes fail (tens of '
                        'seconds); the emulation only')
    from topo.network.config import FORWARDING, GUE_PORT, INSIDE_SUBNET, TUN_TYPES
    g.add_argument('--forwarding', default='dr', choices=list(FORWARDING),
                   help='how the director passes a request to a real server: %s'
                        % '; '.join('%s: %s' % (f.name, f.description)
                                    for f in FORWARDING.values()))
    g.add_argument('--tun-type', default='ipip', choices=list(TUN_TYPES),
                   help="tunnelling's encapsulation (with --forwarding tun): ipip (the default, "
                        'received on tunl0), gue (UDP port %d, `ip fou`), gre (on gre0; Linux '
                        '>= 5.3); gue and gre need --stack keepalived (ldirectord knows only '
                        'ipip)' % GUE_PORT)
    g.add_argument('--remote-servers', action='store_true',
                   help='with --forwarding tun: the real servers on a network of their own '
                        '(%s) behind a router, which the directors reach only through it '
                        '(what tunnelling is for)' % INSIDE_SUBNET)
    if active_active:
        from topo.network.config import OUTSIDE_SUBNET
        g.add_argument('--active-active', action='store_true',
                       help='both directors serve the VIP at once (on lo) behind an ECMP '
                            'route on a router, the client behind it (%s); needs --scheduler '
                            'sh or mh (the same table on both), turns on --sloppy-tcp'
                            % OUTSIDE_SUBNET)
    if crossover:
        g.add_argument('--crossover', action='store_true',
                       help='a second path between the directors (a crossover cable): heartbeat '
                            'broadcasts on both links, keepalived sends its VRRP adverts over it')
    return g


MEASURE_HELP = {
    'probe_rate': ('R', 'requests per second of the prober'),
    'probe_timeout': ('S', 'timeout of each probe request'),
    'wait': ('S', 'longest wait for any expected state before the check fails'),
    'settle': ('S', 'probing after each recovery before the next fault'),
}


def add_measure_args(p, *names, **defaults):
    """The measurement flags (topo.engine.run.Measure) an experiment offers."""
    from topo.engine.run import Measure
    g = p.add_argument_group('measurement')
    d = Measure(**defaults)
    for name in names:
        metavar, text = MEASURE_HELP[name]
        g.add_argument('--' + name.replace('_', '-'), type=float, default=getattr(d, name),
                       metavar=metavar, help=text)
    return g


def add_trials_arg(p):
    p.add_argument('--trials', type=int, default=1, metavar='N',
                   help='run it N times, one cluster boot each (the boot is part of the '
                        "variance): every trial's numbers in trials.csv; per metric the "
                        'median, quartiles, range and (from 6 trials) the median\'s 95 %% '
                        'confidence interval in summary.json')
    p.add_argument('--keep-degraded', action='store_true',
                   help="the spreads keep the trials whose machine was much slower while "
                        'measuring than at calibration (summary.json: fidelity); by default '
                        'they are run, kept and reported, but left out of the spreads')


def trials(args):
    """(trials, keep degraded) of the flags, checked."""
    if args.trials < 1:
        raise ConfigError('--trials must be at least 1, got %d' % args.trials)
    if args.keep_degraded and args.trials == 1:
        raise ConfigError('--keep-degraded applies to the spreads of --trials 2 or more')
    return args.trials, args.keep_degraded


def measure(args, **defaults):
    """The Measure of the flags given (ConfigError when impossible)."""
    from topo.engine.run import Measure
    m = Measure(**dict(defaults, **{k: getattr(args, k) for k in MEASURE_HELP if hasattr(args, k)}))
    if min(m.probe_rate, m.probe_timeout, m.wait) <= 0 or m.settle < 0:
        raise ConfigError('--probe-rate, --probe-timeout and --wait must be positive')
    return m


def inventory(args):
    """The inventory of --target, loaded and checked once (ConfigError), or None."""
    path = getattr(args, 'target', None)
    if not path:
        return None
    if getattr(args, '_inventory', None) is None:
        from topo.backends.machines import inventory as inv
        args._inventory = inv.load(path)
    return args._inventory


def cluster_config(args, **override):
    from topo.network.config import ClusterConfig, parse_weights
    machines = inventory(args)
    if machines is not None and getattr(args, 'active_active', False):
        from topo.network.config import ConfigError
        raise ConfigError('--active-active needs the router between the client and the '
                          'hub, which an inventory does not describe: the emulation only')
    ipv6 = ':' in (getattr(args, 'vip', None) or '')
    if machines is not None and (ipv6 or getattr(args, 'dual_stack', False)) \
            and not machines.vip6:
        from topo.network.config import ConfigError
        raise ConfigError('an IPv6 VIP on machines needs the inventory\'s vip6 and subnet6 '
                          '(all.vars.cluster) and each machine\'s address6 (%s)'
                          % machines.path)
    if machines is not None and getattr(args, 'vip_announce', 'sent') != 'sent':
        from topo.network.config import ConfigError
        raise ConfigError('--vip-announce lost: the testbed drops the announcements on its '
                          'own hub, and the machines\' switch is not the testbed\'s')
    if machines is not None:        # the cluster is the inventory's
        shape = dict(servers=len(machines.real_servers),
                     vip=machines.vip6 if ipv6 else machines.vip,
                     subnet=machines.subnet, port=machines.port)
        if machines.vip6:
            shape['subnet6'] = machines.subnet6
        if getattr(args, 'forwarding', 'dr') == 'dr':      # (the flag's default)
            shape['forwarding'] = machines.forwarding
        override = dict(shape, **override)
    weights = getattr(args, 'weights', None)
    values = dict(servers=getattr(args, 'servers', 3),
                  weights=parse_weights(weights) if weights else None,
                  scheduler=getattr(args, 'scheduler', 'rr'),
                  sched_flags=[f.strip() for f in getattr(args, 'sched_flags', '').split(',')
                               if f.strip()],
                  sloppy_tcp=getattr(args, 'sloppy_tcp', False), vip=args.vip,
                  **subnets(args.subnet),
                  crossover=getattr(args, 'crossover', False),
                  vip_dad={'on': True, 'off': False}.get(getattr(args, 'vip_dad', None)),
                  vip_announce=getattr(args, 'vip_announce', 'sent'),
                  dual_stack=getattr(args, 'dual_stack', False),
                  forwarding=getattr(args, 'forwarding', 'dr'),
                  tun_type=getattr(args, 'tun_type', 'ipip'),
                  remote_servers=getattr(args, 'remote_servers', False),
                  active_active=getattr(args, 'active_active', False))
    values.update(override)
    config = ClusterConfig(**values)
    if machines is not None:
        config.addresses.update({n: m.address for n, m in machines.machines.items()})
        config.lan_interfaces.update({n: m.interface for n, m in machines.machines.items()
                                      if n in config.lan_interfaces})
        if config.addresses6:
            config.addresses6.update({n: m.address6 for n, m in machines.machines.items()})
    return config


def subnets(given):
    """--subnet's values (none, or one per family) -> ClusterConfig's subnet, subnet6."""
    import ipaddress
    from topo.network.config import ConfigError
    out = {}
    for text in given or ():
        try:
            net = ipaddress.ip_network(text)
        except ValueError as e:
            raise ConfigError('--subnet: %s' % e)
        key = 'subnet6' if net.version == 6 else 'subnet'
        if key in out:
            raise ConfigError('--subnet: one IPv4 and one IPv6 prefix at most, got %s'
                              % ', '.join(given))
        out[key] = text
    return out


def names(text, known, what):
    """The names of a comma-separated flag, each one of known (ValueError naming the
    others and the choices)."""
    chosen = [n.strip() for n in text.split(',') if n.strip()]
    bad = [n for n in chosen if n not in known]
    if bad or not chosen:
        raise ValueError('unknown %s: %s (of: %s)' % (what, ', '.join(bad) or 'none chosen',
                                                      ', '.join(known)))
    return chosen


def no_stack_flags(args, why, allowed=()):
    """ValueError, with why, when a stack's flag (other than those allowed) was given to
    a run that takes none."""
    from topo import ha
    given = [f for f in ha.given_flags(args) if f not in allowed]
    if given:
        raise ValueError('%s: %s' % (', '.join(given), why))


def layouts(args, flags_apply_to=None, known=None):
    """The --layouts of a matrix, checked (of known: the HA layouts by default). Each
    layout runs with its own settings: a stack's flag is refused, unless every layout is
    of that stack (e.g. `--layouts pacemaker,pacemaker-hot-standby --ping`): then it
    applies to each (ha.layout_stack with args). flags_apply_to: what else the script's
    stack flags are for."""
    from topo import ha
    chosen = names(args.layouts, ha.layouts() if known is None else known, 'layout')
    problem = ha.layout_flags_problem(chosen, args)
    if problem:
        raise ValueError('%s: every layout runs with its own settings, and a stack\'s '
                         'flags apply only when every layout is of that stack (%s)%s' % (
                             ', '.join(ha.given_flags(args)), problem,
                             '; or use them with %s' % flags_apply_to if flags_apply_to else ''))
    return chosen


def numbers(text, flag, kind=int):
    """The positive numbers of a comma-separated flag (int: whole; float: seconds)."""
    try:
        values = [kind(v) for v in text.split(',') if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) <= 0:
        raise ValueError('%s: positive %s separated by commas, got %r' % (
            flag, 'whole numbers' if kind is int else 'seconds', text))
    return values


def given(parser, argv=None):
    """The destinations of the flags given on the command line (not left at a default)."""
    saved = [(a, a.default) for a in parser._actions]
    try:
        for a, _ in saved:
            a.default = argparse.SUPPRESS
        return set(vars(parser.parse_args(argv)))
    finally:
        for a, d in saved:
            a.default = d


def refuse(parser, given_dests, mode, rules):
    """Every flag must take effect: refuse those given that the chosen mode does not use.
    rules: {dest: (modes where it applies, how to name them)}."""
    for dest, (modes, where) in rules.items():
        if dest in given_dests and mode not in modes:
            parser.error('--%s applies to %s only' % (dest.replace('_', '-'), where))


def require_root():
    if os.geteuid() != 0:
        raise UsageError('the testbed creates network namespaces and loads kernel modules: '
                         'run it as root (sudo %s)' % ' '.join(['python3'] + sys.argv))


def preflight(parts, needs=()):
    missing = packages.missing(parts, needs)
    if missing:
        names = sorted({p for _, p in missing})
        raise UsageError('missing: %s.\nInstall with: %s   (or: apt-get install %s)'
                         % (', '.join('%s (%s)' % m for m in missing), SETUP_HINT,
                            ' '.join(names)))


def stacks_of(plan):
    """One stack per layout the plan runs (their configs and needs are checked up front)."""
    found = {}
    for stack in [plan.stack] + [c.stack for c in plan.cells]:
        if stack is not None:
            found.setdefault((stack.name, stack.layout), stack)
    return list(found.values())


def _raise_stop(signum, _frame):
    raise kernels.StopRequested(signal.Signals(signum).name)


def execute(args, plan, body, parts=('cluster', 'plots'), results=True, host_files=()):
    """Check everything, pick the kernel mode, then run body(results folder) there.

    In a sandbox mode this process re-runs its own command inside the sandbox and
    returns that run's exit status; the results folder and host_files (paths the
    command reads) are made visible inside it. The plots are made from the results
    once the run is over, here (a sandbox starts processes tens of times slower).
    Returns an exit status.
    """
    from topo import backends, ha
    if getattr(args, 'target', None):
        plan.backend, plan.target = backends.MACHINES, inventory(args)
    if getattr(args, 'show_plan', False):
        print(json.dumps(plan.describe(), indent=2, default=str))
        return 0
    if plan.backend != backends.EMULATION:
        return _elsewhere(args, plan, body)
    stacks = stacks_of(plan)
    try:
        require_root()
        preflight(list(parts) + ['controller'], [n for s in stacks for n in s.needs()])
        mode = kernels.choose(args.sandbox, args)    # also says what a sandbox would lack
        if plan.sandbox_only and not mode.sandbox:
            raise UsageError('%s: only in a sandbox kernel (--sandbox uml), never on this '
                             'host\'s own' % plan.sandbox_only)
        if not os.environ.get(CHECKED_ENV):
            for stack in stacks:    # each daemon judges its generated config, before start
                ha.check_configs(stack)
        out = new_results_dir(plan.experiment, getattr(args, 'results', None)) \
            if results else None
    except (UsageError, ConfigError, kernels.SandboxError) as e:
        print('error: %s' % e, file=sys.stderr)
        return 2
    kernels.run_id()
    if mode.sandbox and not mode.is_current():
        print(mode.announce(args.sandbox == 'auto'), flush=True)
        argv = [SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable,
                os.path.abspath(sys.argv[0])] + sys.argv[1:]
        if out and not getattr(args, 'results', None):
            argv += ['--results', str(out)]         # the folder made here, timestamped
        shown = [p for p in [out] + [Path(f).resolve().parent for f in host_files] if p]
        status = mode.enter(argv, env={CHECKED_ENV: '1', kernels.RUN_ENV: kernels.run_id()},
                            host_dirs=[str(p) for p in shown])
        return _plotted(out, status)
    uml = kernels.sandbox_kernel()
    print('kernel mode: %s (%s)' % (kernels.kernel_mode(), os.uname().release if not uml else
                                    '%(release)s, %(package)s %(version)s, %(syscalls)s' % uml),
          flush=True)
    status = _locked(body, out, 'the cluster was torn down', mode.inside)
    return status if os.environ.get(CHECKED_ENV) else _plotted(out, status)


def _locked(body, out, torn_down, inside=None):
    """body(out) holding the testbed's lock, SIGTERM/SIGHUP and Ctrl-C turned into a
    teardown that keeps the results (marked incomplete); its exit status."""
    try:
        lock = kernels.Lock().acquire()
    except kernels.SandboxError as e:
        print('error: %s' % e, file=sys.stderr)
        return 2
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _raise_stop)
    if inside:
        inside()
    try:
        return body(out)
    except (KeyboardInterrupt, kernels.StopRequested) as e:
        for summary in list(Summary.unfinished):
            summary.interrupted(str(e) or 'SIGINT')
        print('\ninterrupted: %s; results so far are in %s (marked incomplete)'
              % (torn_down, out), file=sys.stderr)
        return 130
    finally:
        lock.release()


def _elsewhere(args, plan, body):
    """body(results folder) on the machines of a backend that brings its own kernels
    (no kernel mode here, no sandbox, no Mininet); the lock still keeps one run at a
    time on this control node."""
    from topo import backends
    backend = backends.BACKENDS.get(plan.backend)
    try:
        backend.check(plan)
        out = new_results_dir(plan.experiment, getattr(args, 'results', None))
    except (UsageError, ConfigError) as e:
        print('error: %s' % e, file=sys.stderr)
        return 2
    print('kernel mode: %s' % backend.describe(plan), flush=True)
    status = _locked(body, out, backend.torn_down)
    return _plotted(out, status)


def _plotted(out, status):
    """The run's plots, from its data, when it ran to its end (0: passed, 1: failed)."""
    if out and status in (0, 1):
        from topo import plots
        from topo.engine.run import stage
        plots.safely(out, stage)
    return status
