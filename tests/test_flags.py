"""Every accepted flag takes effect: for each script and each of its modes, every flag
its --help offers is given (with a value other than its default) and the plan the
script prints (`--plan`: the header its summary.json will carry, and its cells)
must differ from the plan without it, or the script must refuse the flag with exit
status 2 before anything starts. The HA stacks' flags come from their registry.

Not walked: --results (where the results go), --sandbox, --uml-mem and --uml-cpu (the kernel the
run happens in: every summary's kernel_mode), --plan and --help themselves.
"""
import dataclasses
import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import PYTHON, ROOT
from topo import ha

NOT_WALKED = {'--help', '--plan', '--results', '--sandbox', '--uml-mem', '--uml-cpu',
              '--uml-kernel'}
# the scripts' own flags: a value other than the default (boolean flags take none)
VALUES = {
    '--stack': 'keepalived', '--servers': '4', '--weights': '1,2,3', '--scheduler': 'wrr',
    '--vip': '10.0.14.150', '--subnet': '10.0.0.0/16', '--probe-rate': '10',
    '--probe-timeout': '2', '--wait': '60', '--settle': '1', '--requests': '2000',
    '--cli-script': '/etc/hostname', '--fault': 'loss', '--node': 'laicoy', '--hold': '10',
    '--then': 'power-off', '--count': '3', '--period': '1', '--percent': '10',
    '--faults': 'crash,loss', '--layouts': 'keepalived', '--configurations': 'keepalived',
    '--deadtimes': '2', '--advert-ints': '0.5', '--tokens': '1000', '--repeats': '2', '--schedulers': 'rr,wrr',
    '--rounds': '2', '--held-rounds': '1', '--preload': '3', '--preload-server': 'laico3',
    '--fin-timeout': '10', '--hold-timeout': '100', '--hardware': '2003',
    '--concurrency': '10,100', '--page': 'cgi', '--clients': '50', '--sessions': '20',
    '--interval': '0.5', '--scale': '1,2', '--trials': '3', '--keep-degraded': None,
    '--crossover': None, '--matrix': None, '--smoke': None, '--cli': None, '--failover': None,
    '--conn-sync': None, '--ways': 'naive', '--grow': '5', '--duration': '900', '--mtbf': '30',
    '--mttr': '40', '--min-repair': '10', '--targets': 'laicoz,laico2', '--seed': '2',
    '--real-mtbf-days': '10', '--real-mttr-hours': '8', '--patterns': 'close',
    '--client-addresses': '50', '--conntrack-max': '8192', '--forwarding': 'tun',
    '--tun-type': 'gre', '--remote-servers': None, '--sched-flags': 'mh-port',
    '--sloppy-tcp': None, '--hash-sources': '90', '--hash-passes': '3', '--active-active': None,
    '--daemon': 'corosync', '--dual-stack': None, '--vip-dad': 'on',
    '--vip-announce': 'lost', '--share': '0.2', '--cycle': '0.5', '--loss': '25', '--starve': '0.2',
    '--target': str(ROOT / 'tests' / 'data' / 'machines.yml'),
}
# a script's own value where two scripts' flags share a name
SCRIPT_VALUES = {'load': {'--ways': 'none,mh', '--fault': 'crash', '--change': 'remove',
                          '--change-server': 'laico2'}}
# a second value, for a mode whose own default is the first one (--scale: the cgi page)
SECOND = {'--page': 'light', '--concurrency': '100'}
# the only hardware profile is --scale's default: given, it is what --scale runs anyway
SAME_AS_DEFAULT = {('load', '--scale', '--hardware')}
MODES = {
    'failover': [[]],
    'cluster': [['--smoke'], ['--cli'], ['--cli', '--stack', 'heartbeat']],
    'faults': [['--fault', 'cable-pull'], ['--matrix']],
    'sweep': [[]],
    'schedulers': [[]],
    'load': [[], ['--failover'], ['--conn-sync'], ['--scale', '1,2']],
    'maintenance': [[], ['--grow', '6']],
    'availability': [[]],
}


def stack_values():
    """A value other than the default for each HA stack flag, from the stacks' settings."""
    out = {}
    for cls in ha.load().values():
        for f in dataclasses.fields(cls.Settings):
            flag = ha.flag_of(f.name)
            if f.metadata.get('action') == 'store_true':
                out[flag] = None
            elif 'choices' in f.metadata:
                out[flag] = [c for c in f.metadata['choices'] if c != f.default][0]
            elif f.default is None:            # heartbeat's warntime: between its neighbours
                out[flag] = '0.6'
            elif isinstance(f.default, int) and not isinstance(f.default, bool):
                out[flag] = str(f.default + 1)
            else:
                out[flag] = str(round(f.default * 0.8, 3))
    return out


def plan(script, argv):
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / (script + '.py')), '--plan'] + argv,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120)
    return p.returncode, p.stdout


def flags_of(script):
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / (script + '.py')), '--help'],
                       stdout=subprocess.PIPE, universal_newlines=True, timeout=60, check=True)
    return sorted(set(re.findall(r'^\s+(--[a-z][a-z0-9-]*)', p.stdout, re.M)))


@pytest.mark.parametrize('script', sorted(MODES))
def test_every_flag_takes_effect_or_is_refused(script):
    values = dict(VALUES, **stack_values(), **SCRIPT_VALUES.get(script, {}))
    flags = [f for f in flags_of(script) if f not in NOT_WALKED]
    missing = [f for f in flags if f not in values]
    assert not missing, 'no example value for %s: add one to VALUES' % missing
    jobs = []
    for mode in MODES[script]:
        for flag in flags:
            if flag in mode:
                continue
            value = values[flag]
            jobs.append((mode, flag, mode + [flag] + ([] if value is None else [value])))
    with ThreadPoolExecutor(2) as pool:
        baselines = dict(zip(map(tuple, MODES[script]),
                             pool.map(lambda m: plan(script, m), MODES[script])))
        outcomes = list(pool.map(lambda job: plan(script, job[2]), jobs))
    silent = []
    for (mode, flag, argv), (rc, out) in zip(jobs, outcomes):
        base_rc, base = baselines[tuple(mode)]
        assert base_rc == 0, base
        if rc == 2:
            assert 'error:' in out and 'kernel mode' not in out, (argv, out)
            continue
        assert rc == 0, (argv, out)
        if json.loads(out) == json.loads(base) and flag in SECOND:
            rc, out = plan(script, mode + [flag, SECOND[flag]])
        if rc == 0 and json.loads(out) == json.loads(base) and \
                (script, mode[0] if mode else None, flag) not in SAME_AS_DEFAULT:
            silent.append(' '.join(argv))
    assert not silent, 'accepted but without effect on the plan: %s' % silent
