"""Integration, end to end on machines of their own (one UML kernel each): up, deploy
keepalived with Ansible, deploy again (changed=0), a fault run over SSH with its
invariants, a power cycle, down; this host's /etc untouched throughout and nothing left.
Run as the README writes the commands: from a folder of the user's (not the checkout),
with relative paths (`--inventory machines.yml`), which must mean the same through sudo,
UML, Debian's python and Ansible."""
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PYTHON, ROOT

needs_sshd = pytest.mark.skipif(not Path('/usr/sbin/sshd').exists(),
                                reason='openssh-server not installed (./testbed setup)')


def script(name, *args, timeout=900, env=None, cwd=None):
    p = subprocess.run([PYTHON, str(ROOT / 'experiments' / name)] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd,
                       universal_newlines=True, timeout=timeout, env=env)
    print(p.stdout[-6000:])
    return p


def etc_state():
    """Every file under this host's /etc: size, mtime and mode."""
    out = {}
    for dirpath, dirnames, filenames in os.walk('/etc'):
        for f in dirnames + filenames:
            path = os.path.join(dirpath, f)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            out[path] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


# at nice -5: six hogs at nice 0 slowed a UML machine's process starts only 1.9x (its
# scheduler favours a task that wakes), under the 2x that marks a run (one CI run)
HOGS = ('for i in 1 2 3 4 5 6; do nohup nice -n -5 timeout 120 sh -c "while :; do :; done"'
        ' >/dev/null 2>&1 & done')


def priority_on_this_host(machine, nice):
    """The machine's UML processes at this host's priority nice (19, the lowest: its
    hogs' processes inherit it, and the hogs starve it alone, as on hardware of its own).
    Without it, on this 2-CPU host, laico2's hogs also slowed laicoz's process starts to
    19x (one CI run).
    Each machine is a session of its own, so with the scheduler's autogroups (Debian's
    default) a nice value counts only inside the machine's group: the group's own nice
    is what lowers it against the other machines (renice alone still let laicoz slow to
    14x in the next CI run)."""
    pids = subprocess.run(['pgrep', '-f', 'umid=hatb-%s ' % machine], stdout=subprocess.PIPE,
                          universal_newlines=True).stdout.split()
    assert pids and subprocess.run(['renice', '-n', str(nice), '-p'] + pids,
                                   stdout=subprocess.DEVNULL).returncode == 0
    for pid in pids:
        try:
            Path('/proc/%s/autogroup' % pid).write_text(str(nice))
        except FileNotFoundError:           # gone, or a kernel without autogroups
            pass


def keepalived_fault_run(tmp_path, args, on_line):
    """faults.py on the machines with their keepalived, its output shown and each line's
    text (after the time) given to on_line as it comes; its exit status."""
    proc = subprocess.Popen([PYTHON, str(ROOT / 'experiments' / 'faults.py'), '--target',
                             'machines.yml', '--stack', 'keepalived'] + args,
                            cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True)
    try:
        for line in proc.stdout:
            print(line, end='')
            on_line(line.split('] ', 1)[-1])
        return proc.wait(timeout=600)
    finally:
        proc.kill()


STARVED = '/sys/fs/cgroup/hatestbed-starved'     # a starved machine's group


def starved_run(tmp_path, machine):
    """Two starvations in one run (one run less in the suite): the starve fault on
    laicoz over SSH, and CPU hogs that this host gives `machine` once the machines have
    calibrated (under the run's steady traffic). (The exit status, the run's summary,
    what laicoz's starved group held while the fault was on, its keepalived processes'
    groups after the run.)"""
    out, held = tmp_path / 'starved', {}

    def on(text):
        # the machines calibrate over 2 s once the prober runs; the fault comes after
        if text.startswith('injecting'):
            priority_on_this_host(machine, 19)
            assert script('machines.py', 'run', machine, HOGS).returncode == 0
        if text.startswith('holding') and not held:
            time.sleep(1)
            p = script('machines.py', 'run', 'laicoz',
                       'cat %s/cpu.max; echo; cat %s/cgroup.procs; echo; '
                       'cat %s/cpu.stat; echo; pgrep -x keepalived' % ((STARVED,) * 3))
            held.update(zip(('cpu.max', 'procs', 'cpu.stat', 'keepalived'),
                            p.stdout.split('\n\n')))
    try:
        rc = keepalived_fault_run(tmp_path, ['--fault', 'starve', '--node', 'laicoz',
                                             '--share', '0.2', '--cycle', '0.5', '--hold',
                                             '8', '--results', str(out)], on)
    finally:
        script('machines.py', 'run', machine, 'pkill -f "while :" || true')
        priority_on_this_host(machine, 0)   # (the next runs measure it again)
    after = script('machines.py', 'run', 'laicoz', 'test -d %s && echo left; '
                   'for p in $(pgrep -x keepalived); do cat /proc/$p/cgroup; done' % STARVED)
    return (rc, json.loads(next(out.rglob('cells/*/summary.json')).read_text()), held,
            after.stdout)


@needs_sshd
@pytest.mark.xdist_group('machines')        # (one set of machines on this host at a time)
def test_deploy_twice_then_a_partition_over_ssh(tmp_path):
    def here(name, *args, **kw):         # in the user's folder, relative paths
        return script(name, *args, cwd=str(tmp_path), **kw)
    inv = tmp_path / 'machines.yml'
    before = etc_state()
    try:
        assert here('machines.py', 'up', '--inventory', 'machines.yml', '--servers', '1'
                    ).returncode == 0
        assert inv.exists()
        p = here('deploy.py', '--inventory', 'machines.yml', '--stack', 'keepalived')
        assert p.returncode == 0 and re.search(r'changed=[1-9]\d* over 4 machines', p.stdout)
        state = Path(str(inv) + '.deploy')      # the deployment's secret, mode 600
        assert (state / 'secrets.json').stat().st_mode & 0o777 == 0o600
        p = here('deploy.py', '--inventory', 'machines.yml', '--stack', 'keepalived')
        assert p.returncode == 0 and 'changed=0 over 4 machines' in p.stdout
        # heartbeat asked of machines that run keepalived: refused before anything starts
        p = script('failover.py', '--target', str(inv), '--results', str(tmp_path / 'no'))
        assert p.returncode == 2 and 'the stack: keepalived is deployed' in p.stdout
        assert not (tmp_path / 'no').exists()
        # a partition of the directors over SSH, with a Mininet that cannot be imported
        fake = tmp_path / 'fake' / 'mininet'
        fake.mkdir(parents=True)
        (fake / '__init__.py').write_text("raise ImportError('mininet imported')\n")
        out = tmp_path / 'partition'
        p = here('faults.py', '--target', 'machines.yml', '--stack', 'keepalived', '--fault',
                 'partition', '--hold', '8', '--results', 'partition',
                 env=dict(os.environ, PYTHONPATH=str(tmp_path / 'fake')))
        assert p.returncode == 0, p.stdout
        summary = json.loads((out / 'summary.json').read_text())
        assert summary['kernel_mode'] == 'machines' and summary['passed']
        run = json.loads(next(out.rglob('cells/*/summary.json')).read_text())
        assert set(run['machines']) == {'laicoz', 'laicoy', 'laico2', 'client'}
        # each clock measured (UML kernels read this host's clock: offsets of tens of ms,
        # more on a busy host; the uncertainty is half the best round trip)
        for m in run['machines'].values():
            assert abs(m['clock']['offset_s']) < 1 and 0 < m['clock']['uncertainty_s'] < 0.25
        [timeline] = run['fault_timelines']
        # keepalived splits: both directors own the VIP for about the hold, none lost
        assert 5 < timeline['dual_owner_s'] < 12 and timeline['recovered_after_clear_s'] < 5
        assert run.get('left_behind', []) == []       # (an empty list is left out)
        # every machine calibrated and probed by its own speed agent, none slow
        assert set(run['fidelity']['machines']) == {'laicoz', 'laicoy', 'laico2', 'client'}
        assert not [r for r in run['fidelity']['reasons'] if r.startswith('laico')]
        # two starvations in one run. The starve fault on laicoz, as the emulation starves
        # a node: its processes (SSH and the testbed's agents aside) in a group capped at
        # 0.2 x 0.5 s per 0.5 s, a loop beside them, throttled while it lasts; each back
        # in its own group after it.
        rc, run, held, after = starved_run(tmp_path, 'laico2')
        assert rc == 0, (held, after)
        assert held['cpu.max'].split() == ['100000', '500000'], held
        assert set(held['keepalived'].split()) <= set(held['procs'].split()), held
        stat = dict(line.split() for line in held['cpu.stat'].splitlines())
        assert int(stat['nr_throttled']) > 0, held
        assert 'left' not in after and after.split() and set(after.split()) == {'0::/'}, after
        # And laico2 starved by this host while the run measures (six CPU hogs, started
        # once every machine calibrated): the run is marked degraded, naming laico2, the
        # slowest against its own calibration (laicoz's agent is spared by the fault, as
        # every instrument is). Another machine may be named too: on this 2-CPU host,
        # with the suite's other worker running, laicoz once stalled for 75 ms, 14x,
        # while its median stayed at 1.4x, and laicoy's median once reached 1.97x beside
        # laico2's 3.4x (a CI run): true verdicts, so only the order is asserted.
        assert run['fidelity']['machines']['laico2']['degraded'] is True
        assert run['fidelity']['degraded'] and [
            r for r in run['fidelity']['reasons'] if r.startswith('laico2: ')]
        slower = {n: m['during']['process_start_s']['median'] /
                  m['calibration']['process_start_s']['median']
                  for n, m in run['fidelity']['machines'].items()
                  if m['calibration'] and m['during']['process_start_s']['median']}
        others = [x for n, x in slower.items() if n != 'laico2']
        assert slower['laico2'] >= 2 and others and slower['laico2'] > max(others), slower
        # one more experiment there: the smoke run's static service on laicoz (the deployed
        # stack stopped for it), every answer from the one real server
        p = here('cluster.py', '--smoke', '--target', 'machines.yml', '--results', 'smoke')
        assert p.returncode == 0, p.stdout
        smoke = json.loads((tmp_path / 'smoke' / 'summary.json').read_text())
        assert smoke['kernel_mode'] == 'machines' and smoke['passed']
        assert smoke['bursts'][0]['answers'] == {'laico2': 15}
        # the runs left the deployment as it was deployed
        p = here('deploy.py', '--inventory', 'machines.yml', '--stack', 'keepalived')
        assert p.returncode == 0 and 'changed=0 over 4 machines' in p.stdout, p.stdout[-3000:]
        # the service in IPv6 on the same machines: the inventory's vip6 and each machine's
        # address6 (machines.py wrote them); a run asking for it before it is deployed
        # refused, then deployed and the smoke run through the IPv6 VIP
        assert 'vip6' in inv.read_text() and 'address6: 2001:db8:14::12' in inv.read_text()
        p = here('cluster.py', '--smoke', '--target', 'machines.yml', '--vip',
                 '2001:db8:14::146', '--results', 'no6')
        assert p.returncode == 2 and 'vips' in p.stdout, p.stdout
        p = here('deploy.py', '--inventory', 'machines.yml', '--stack', 'keepalived', '--ipv6')
        assert p.returncode == 0 and re.search(r'changed=[1-9]\d* over 4 machines', p.stdout)
        p = here('cluster.py', '--smoke', '--target', 'machines.yml', '--vip',
                 '2001:db8:14::146', '--results', 'smoke6')
        assert p.returncode == 0, p.stdout
        smoke = json.loads((tmp_path / 'smoke6' / 'summary.json').read_text())
        assert smoke['passed'] and smoke['parameters']['vip'] == '2001:db8:14::146'
        assert smoke['bursts'][0]['answers'] == {'laico2': 15}
        # a power cycle: the machine's kernel killed, booted again; what it synced, its
        # SSH host key (a changed key would be refused) and the deployment survive
        assert script('machines.py', 'run', 'laico2', 'echo kept > /etc/hatb-kept; sync'
                      ).returncode == 0
        assert script('machines.py', 'power-off', 'laico2').returncode == 0
        assert script('machines.py', 'run', 'laico2', 'true', timeout=60).returncode != 0
        assert script('machines.py', 'power-on', 'laico2').returncode == 0
        for _ in range(60):
            if script('machines.py', 'run', 'laico2', 'hostname').stdout.strip() == 'laico2':
                break
            time.sleep(2)
        else:
            pytest.fail('laico2 did not come back after its power-on')
        p = script('machines.py', 'run', 'laico2', 'cat /etc/hatb-kept /etc/hatestbed/node.sh')
        assert p.returncode == 0 and p.stdout.startswith('kept\n'), p.stdout
        assert not Path('/etc/hatb-kept').exists()          # the machine's, not this host's
    finally:
        assert script('machines.py', 'down').returncode == 0
    assert etc_state() == before        # deploying to the machines never touched this host
    links = subprocess.run(['ip', '-o', 'link'], stdout=subprocess.PIPE,
                           universal_newlines=True).stdout
    assert 'hatb-' not in links
    assert subprocess.run(['pgrep', '-f', 'umid=hatb-'], stdout=subprocess.PIPE).stdout == b''
    assert not Path('/var/tmp/hatestbed-machines').exists()


@needs_sshd
@pytest.mark.slow       # (4 min: the suite keeps to 15; the fence agent: its unit tests)
@pytest.mark.xdist_group('machines')        # (one set of machines on this host at a time)
def test_pacemaker_fences_a_machine_through_the_inventorys_power(tmp_path):
    """Pacemaker with fencing on machines: deployed with its fence agent; in a partition
    of the directors laicoz (the holder) fences laicoy through the run's power switch,
    forwarded over laicoz's SSH connection, which runs the inventory's power_off; the
    clear's repair powers it on again with power_on. Never two owners."""
    def here(name, *args, **kw):
        return script(name, *args, cwd=str(tmp_path), **kw)
    try:
        assert here('machines.py', 'up', '--inventory', 'machines.yml', '--servers', '1'
                    ).returncode == 0
        p = here('deploy.py', '--inventory', 'machines.yml', '--stack', 'pacemaker',
                 '--token', '1000')
        assert p.returncode == 0 and 'fencing on' in p.stdout, p.stdout[-3000:]
        p = here('faults.py', '--target', 'machines.yml', '--stack', 'pacemaker', '--token',
                 '1000', '--fault', 'partition', '--hold', '8', '--results', 'partition')
        assert p.returncode == 0, p.stdout
        summary = json.loads((tmp_path / 'partition' / 'summary.json').read_text())
        [cell] = summary['faults']
        assert summary['kernel_mode'] == 'machines' and cell['passed']
        assert cell['dual_owner_s'] == 0 and cell['final_owner'] == 'laicoz'
        assert cell['fenced'] and cell['fenced'].startswith('laicoy off at ')
        cell_dir = next((tmp_path / 'partition').rglob('cells/*-partition'))
        events = [json.loads(line) for line in
                  (cell_dir / 'events.jsonl').read_text().splitlines()]
        assert [e['node'] for e in events if e['kind'] == 'fence'] == ['laicoy']
        # laicoy was off (its machine's kernel gone) and came back by the clear's repair
        assert 'laicoy fenced after the clear' not in p.stdout
        run = json.loads((cell_dir / 'summary.json').read_text())
        assert run.get('left_behind', []) == []
        assert "Operation 'off' targeting laicoy" in (
            cell_dir / 'logs' / 'laicoz' / 'pacemaker.log').read_text()
    finally:
        assert script('machines.py', 'down').returncode == 0
    assert subprocess.run(['pgrep', '-f', 'umid=hatb-'], stdout=subprocess.PIPE).stdout == b''
