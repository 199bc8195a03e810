"""The deployment's variables (topo/backends/machines/deployment.py): each machine's templates get from its
one set of variables exactly what the emulation's daemons give them; the secrets and
the agents' archive stay the same from one deployment to the next; the node script
is valid shell for every role; an experiment on real machines never imports Mininet."""
import os
import subprocess

import pytest

from conftest import PYTHON, ROOT
from topo import ha, render
from topo.backends.machines import deployment, inventory
from topo.network.config import ClusterConfig

INVENTORY = ROOT / 'tests' / 'data' / 'machines.yml'


def cluster(inv):
    config = ClusterConfig(servers=len(inv.real_servers), vip=inv.vip, subnet=inv.subnet)
    config.addresses.update({n: m.address for n, m in inv.machines.items()})
    return config


@pytest.mark.parametrize('layout', sorted(ha.layouts()))
def test_each_template_gets_what_its_daemon_gives_it(layout):
    inv = inventory.load(INVENTORY)
    config = cluster(inv)
    stack = ha.layout_stack(layout, config)
    hosts = deployment.host_variables(inv, config, stack)
    assert set(hosts) == set(inv.machines)
    for name in ('laicoz', 'laicoy'):
        v = hosts[name]
        node = deployment.MachineNode(inv.machines[name])
        own = {dest: render.render(deployment.HA_TEMPLATES / (t + '.j2'), d.context())
               for d in stack.daemons(node) for t, dest in d.templates.items()}
        assert sorted(own) == sorted(c['dest'] for c in v['hatestbed_configs'])
        for c in v['hatestbed_configs']:
            assert render.render(c['src'], v) == own[c['dest']], c['dest']
            secret = c['dest'] in ('/etc/ha.d/authkeys', '/etc/keepalived/keepalived.conf',
                                   '/etc/corosync/authkey', '/var/lib/pacemaker/cib/cib.xml')
            assert c['mode'] == ('0600' if secret else '0644')
            # the CIB is its daemon's (pacemaker-based rewrites it), every other root's
            cib = c['dest'] == '/var/lib/pacemaker/cib/cib.xml'
            assert (c.get('owner'), c.get('group')) == \
                (('hacluster', 'haclient') if cib else (None, None))
        assert set(p for _, _, p in stack.needs()) <= set(v['hatestbed_packages'])
        assert v['hatestbed_deployment']['settings'] == stack.settings.as_dict()
    server = hosts['laico3']
    rendered = render.render(deployment.NETWORK_TEMPLATES / 'realserver.sh.j2', server)
    assert 'ip addr replace 10.0.14.146/32 dev lo' in rendered
    assert 'net.ipv4.conf.ens3.arp_ignore=1' in rendered       # the inventory's interface
    assert 'add_header X-Served-By laico3' in render.render(
        deployment.NETWORK_TEMPLATES / 'nginx.conf.j2', server)


def test_a_name_with_two_meanings_is_refused():
    v = {'iface': 'eth0'}
    deployment.merge(v, {'iface': 'eth0', 'vip': '10.0.14.146'}, 'laicoz')
    with pytest.raises(ValueError, match="laicoz: the variable 'iface' means two things"):
        deployment.merge(v, {'iface': 'eth1'}, 'laicoz')


def test_a_second_deployment_renders_the_same(tmp_path):
    inv_path = tmp_path / 'machines.yml'
    inv_path.write_text(INVENTORY.read_text())
    inv = inventory.load(inv_path)
    config = cluster(inv)
    first = deployment.prepare(inv, config, ha.layout_stack('heartbeat', config)).read_text()
    archive = (tmp_path / 'machines.yml.deploy' / 'agents.tar').read_bytes()
    again = deployment.prepare(inv, config, ha.layout_stack('heartbeat', config)).read_text()
    assert first == again               # the same secret, so the same authkeys
    assert (tmp_path / 'machines.yml.deploy' / 'agents.tar').read_bytes() == archive
    state = tmp_path / 'machines.yml.deploy'
    for f in ('secrets.json', 'hosts.yml'):
        assert (state / f).stat().st_mode & 0o777 == 0o600, f
    assert state.stat().st_mode & 0o777 == 0o700
    other = deployment.prepare(inv, config, ha.layout_stack('keepalived', config)).read_text()
    assert other != first and (state / 'secrets.json').read_text().count('-v') == 2
    assert b'topo/agents/monitor.py' in archive


@pytest.mark.parametrize('layout', sorted(ha.layouts()))
def test_the_node_script_is_shell_for_every_role(tmp_path, layout):
    inv = inventory.load(INVENTORY)
    config = cluster(inv)
    stack = ha.layout_stack(layout, config)
    hosts = deployment.host_variables(inv, config, stack)
    for name, v in hosts.items():
        text = render.render(ROOT / 'deploy' / 'templates' / 'node.sh.j2',
                             dict(v, inventory_hostname=name))
        if inv.machines[name].role == 'director':
            # the stack's boot as it declares it, the commands the emulation runs
            node = deployment.MachineNode(inv.machines[name])
            boot = [step.command for step in stack.boot(node)]
            assert boot and all('{ %s ; }' % c in text for c in boot)
            # every stack's daemons stopped, whichever was deployed before
            assert all('pkill -9 %s' % p in text for d in ha.all_daemon_classes()
                       for p in d.kill_patterns())
        script = tmp_path / ('%s.sh' % name)
        script.write_text(text)
        p = subprocess.run(['sh', '-n', str(script)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        assert p.returncode == 0, '%s: %s' % (name, p.stdout)
        p = subprocess.run(['sh', str(script), 'nonsense'], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        assert p.returncode == 2 and 'usage' in p.stdout


def test_no_stack_is_named_in_the_deployment():
    """A stack is one module: deploy/ loops over what the stacks declare, and names none
    (a new stack would otherwise silently get another's start on real machines)."""
    names = {n for cls in ha.load().values() for n in [cls.name] +
             [d.name for d in cls.daemon_classes]}
    for path in sorted((ROOT / 'deploy').rglob('*')):
        if path.is_file() and '__pycache__' not in path.parts:
            text = path.read_text().lower()
            assert not [n for n in names if n in text], path


def unimportable_mininet(tmp_path):
    """An environment in which `import mininet` fails loudly."""
    fake = tmp_path / 'fake' / 'mininet'
    fake.mkdir(parents=True, exist_ok=True)
    (fake / '__init__.py').write_text("raise ImportError('mininet imported with --target')\n")
    return dict(os.environ, PYTHONPATH='%s:%s' % (tmp_path / 'fake', ROOT))


def test_on_real_machines_mininet_is_never_imported(tmp_path):
    """The machines backend, the experiments' flags and the run's set-up, with a Mininet that
    cannot be imported."""
    code = ('import sys; from topo import backends; backends.BACKENDS.get(backends.MACHINES); '
            'sys.path.insert(0, "experiments"); import failover, faults; '
            'failover.parse_args(["--target", %r]); faults.parse_args(["--target", %r, '
            '"--fault", "partition"]); print("mininet" in sys.modules)'
            % (str(INVENTORY), str(INVENTORY)))
    p = subprocess.run([PYTHON, '-c', code], cwd=str(ROOT), env=unimportable_mininet(tmp_path),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == 'False', p.stdout
    # and the control: the emulation's backend does import it
    p = subprocess.run([PYTHON, '-c', 'from topo import backends; backends.BACKENDS.get("mininet")'],
                       cwd=str(ROOT), env=unimportable_mininet(tmp_path),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120)
    assert p.returncode != 0 and 'mininet imported with --target' in p.stdout


def test_what_real_machines_cannot_do_is_refused_before_start(tmp_path):
    for extra, said in ((['--crossover'], '--crossover'),
                        (['--forwarding', 'nat'], 'inside network'),
                        # the paper switches laico2 off: its inventory entry has no power_off
                        ([], 'power-off on laico2 needs power_off and power_on')):
        p = subprocess.run([PYTHON, str(ROOT / 'experiments' / 'failover.py'), '--target',
                            str(INVENTORY), '--results', str(tmp_path / 'r')] + extra,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=120)
        assert p.returncode == 2 and said in p.stdout, p.stdout
        assert not (tmp_path / 'r').exists()


def test_the_deployed_cib_points_the_fence_agent_at_the_switch_of_each_run():
    """On machines the fence devices name one socket path, as deployed: each run's
    power switch is forwarded there over the director's SSH connection."""
    from topo.ha.stacks.pacemaker import MACHINES_SWITCH
    inv = inventory.load(INVENTORY)
    config = cluster(inv)
    stack = ha.get('pacemaker')(config)
    hosts = deployment.host_variables(inv, config, stack)
    [cib] = [c for c in hosts['laicoy']['hatestbed_configs']
             if c['dest'] == '/var/lib/pacemaker/cib/cib.xml']
    text = render.render(cib['src'], hosts['laicoy'])
    assert 'name="socket" value="%s"' % MACHINES_SWITCH in text
    assert 'name="stonith-enabled" value="true"' in text
