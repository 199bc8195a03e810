"""What a run on real machines checks before anything starts: what the inventory's
machines cannot do (refused, naming it), that SSH reaches every machine, and that the
directors run the stack, settings and service the run asks for (as deploy.py left
them). Any problem is a UsageError or ConfigError: nothing was touched."""
import json
from pathlib import Path

from topo.backends.machines.paths import DEPLOYMENT
from topo.engine.cli import preflight, stacks_of
from topo.engine.results import UsageError
from topo.network.config import DIRECTORS, ConfigError


def check(plan):
    """Everything, in order; raises at the first problem."""
    one_deployment(plan)
    problems = target_problems(plan)
    if problems:
        raise UsageError('not on real machines (--target): %s' % '; '.join(problems))
    preflight(['deploy'])
    deployed(plan, reachable(plan.target, 'cat %s 2>/dev/null' % DEPLOYMENT))
    starvable(plan)


def target_problems(plan):
    """Why a plan cannot run on real machines ([]: it can). A fault whose command the
    inventory lacks (a power-off without power_off) raises ConfigError, naming it."""
    c = plan.config
    problems = []
    if c.crossover:
        problems.append('--crossover (the inventory has no second cable between the directors)')
    if c.servers_inside:
        problems.append('--forwarding nat and --remote-servers (the inventory has no inside '
                        'network)')
    if plan.target is not None and c.client_addresses > plan.target.client_addresses:
        problems.append('%d client addresses: the inventory allows %d (its cluster\'s '
                        'client_addresses)' % (c.client_addresses, plan.target.client_addresses))
    if plan.hardware:
        problems.append('a hardware profile (emulated caps)')
    if plan.sandbox_only:
        problems.append(plan.sandbox_only)
    for stack in stacks_of(plan):
        if stack.machines_problem and stack.machines_problem not in problems:
            problems.append(stack.machines_problem)
        if stack.powers_directors and plan.target is not None:
            for director in DIRECTORS:      # (its fence agent switches them off)
                try:
                    plan.target.command('power-off', director)
                except ConfigError as e:
                    raise ConfigError('%s fences through the inventory\'s power (or '
                                      '--fencing off): %s' % (stack.name, e))
    if not problems and plan.target is not None:
        for fault, target in fault_targets(plan):
            plan.target.command(fault, target)
    return problems


def fault_targets(plan):
    """Every (fault, machine) the plan's runs inject."""
    from topo.engine.steps import Inject
    found = []
    for scenario in [plan.scenario] + [cell.scenario for cell in plan.cells]:
        for step in (scenario.steps if scenario else []):
            if isinstance(step, Inject):
                found.append((step.fault, step.target))
            found += [(f.fault, f.target) for f in getattr(step, 'faults', None) or []]
    return found


CGROUP_CPU = 'grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null && echo cgroup2-cpu'


def starvable(plan):
    """UsageError unless every machine the plan starves has cgroup v2 with its cpu
    controller (the starve fault's cap: topo/backends/machines/cluster.py)."""
    starved = sorted({t for f, t in fault_targets(plan) if f == 'starve'})
    if starved:
        answers = reachable(plan.target, CGROUP_CPU)
        missing = [n for n in starved if 'cgroup2-cpu' not in answers.get(n, '')]
        if missing:
            raise UsageError('starve on %s: no cgroup v2 with its cpu controller at '
                             '/sys/fs/cgroup (systemd mounts it, Debian 11 and later)'
                             % ', '.join(missing))


def deployments(plan):
    """The deployments the plan's runs need: one per stack, layout and settings
    (a static IPVS service needs only the real servers': none of its own)."""
    found = {}
    for stack in [plan.stack] + [c.stack for c in plan.cells]:
        if stack is not None:
            key = json.dumps([stack.name, stack.layout, stack.settings.as_dict()],
                             sort_keys=True, default=str)
            found.setdefault(key, stack)
    return list(found.values())


def reachable(machines, ask=None):
    """UsageError naming every machine of the inventory that SSH cannot reach; with
    ask, a shell command, {machine: what it printed} of each (one connection each)."""
    import tempfile
    import threading
    from topo.backends.machines.connection import Connection
    problems, answers = [], {}

    def probe(machine, where):
        try:
            conn = Connection(machine, where, machines.ssh_key, machines.ssh_args).open()
        except RuntimeError as e:
            problems.append(str(e))
            return
        try:
            if ask:
                answers[machine.name] = conn.run(ask).stdout
        finally:
            conn.close()
    with tempfile.TemporaryDirectory(prefix='hatestbed-ssh.') as where:
        threads = [threading.Thread(target=probe, args=(m, Path(where)))
                   for m in machines.machines.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if problems:
        raise UsageError('unreachable: %s' % '; '.join(sorted(problems)))
    return answers


def one_deployment(plan):
    """The one stack the plan runs (None: a static service); UsageError when its runs
    need several deployments."""
    stacks = deployments(plan)
    if len(stacks) > 1:
        settings = [s.settings.as_dict() for s in stacks]
        differ = sorted({k for d in settings for k in d
                         if len({json.dumps(x.get(k), default=str) for x in settings}) > 1})
        named = ['%s%s' % (s.layout, ''.join(' %s=%s' % (k, d.get(k)) for k in differ
                                             if k in d)) for s, d in zip(stacks, settings)]
        raise UsageError(
            'this run needs %d deployments (%s): real machines run the one deployed '
            '(experiments/deploy.py); run it with the deployed one alone (--layouts, '
            '--stack), or for each setting deploy it and run experiments/failover.py '
            '--target' % (len(stacks), ', '.join(named[:6] + ['...'] * (len(named) > 6))))
    return stacks[0] if stacks else None


def deployed_mismatch(deployment, stack, config):
    """What differs between the stack and service a run asks for and those deployed
    ([]: none). stack None: a static IPVS service, which the run installs itself on
    laicoz (the deployed stack stopped), with its own scheduler and weights: only how
    the real servers were set up must match."""
    from topo.backends.machines.deployment import service
    if deployment is None:
        return ['nothing is deployed (no deployment record)']
    if stack is None:
        have, want = deployment.get('service') or {}, service(config)
        return ['%s: deployed %r, asked %r' % (k, have.get(k), want[k])
                for k in ('forwarding', 'tun_type', 'port', 'vips') if have.get(k) != want[k]]
    if deployment.get('stack') != stack.name:
        return ['the stack: %s is deployed, the run asks for %s'
                % (deployment.get('stack'), stack.name)]
    problems = []
    for what, want in (('service', service(config)), ('settings', stack.settings.as_dict())):
        have = deployment.get(what) or {}
        problems += ['%s: deployed %r, asked %r' % (k, have.get(k), v)
                     for k, v in sorted(want.items()) if have.get(k) != v]
    return problems


def deployed(plan, records):
    """UsageError unless the directors run the stack, settings and service the plan asks
    for (records: {machine: its deployment.json, as experiments/deploy.py wrote it})."""
    from topo.network.config import DIRECTORS
    stack = one_deployment(plan)
    problems = []
    for name in DIRECTORS if stack else plan.target.machines:
        try:
            record = json.loads(records.get(name) or '')
        except ValueError:
            record = None
        problems += ['%s: %s' % (name, p)
                     for p in deployed_mismatch(record, stack, plan.config)]
    if problems:
        raise UsageError('the machines do not run what this run asks for; deploy it first '
                         '(experiments/deploy.py --inventory %s%s ...):\n  %s'
                         % (plan.target.path, ' --stack %s' % stack.name if stack else '',
                            '\n  '.join(problems)))
