"""What a run on real machines refuses before anything starts
(topo/backends/machines/preflight.py), on plans as the experiments make them and the
deployment records deploy.py leaves on the machines: a run that needs several
deployments (a sweep, the sync daemon off then on, every layout), a static service
on machines set up for another forwarding method, more client addresses than the
inventory allows, a scheduled power-off of a machine without power commands."""
import json

import pytest

from conftest import ROOT
from topo import ha
from topo.backends.machines import inventory, preflight
from topo.backends.machines.deployment import service
from topo.engine.matrix import Cell
from topo.engine.results import UsageError
from topo.engine.run import Plan
from topo.engine.schedule import ScheduledFault
from topo.engine.scenarios import Scenario
from topo.engine.steps.faults import ReplaySchedule
from topo.network.config import ClusterConfig, ConfigError

MACHINES = inventory.load(str(ROOT / 'tests' / 'data' / 'machines.yml'))


def records(stack, config, names=MACHINES.machines):
    """Each machine's deployment.json, as deploy.py writes it for this stack."""
    return {n: json.dumps({'stack': stack.name, 'layout': stack.layout,
                           'settings': stack.settings.as_dict(), 'service': service(config)})
            for n in names}


def heartbeat(config, **settings):
    cls = ha.get('heartbeat')
    return cls(config, cls.Settings(**settings))


def test_the_deployed_stack_passes_and_one_setting_more_is_refused():
    config = ClusterConfig()
    deployed = heartbeat(config)
    plan = Plan('failover', config, deployed, target=MACHINES)
    preflight.deployed(plan, records(deployed, config))         # as deployed: fine
    sweep = Plan('sweep', config, target=MACHINES, cells=[
        Cell('deadtime-%g' % d, heartbeat(config, deadtime=d, keepalive=d / 4), None, {})
        for d in (1.0, 2.0)])
    with pytest.raises(UsageError, match='this run needs 2 deployments .*deadtime=1.0.*'
                                         'deadtime=2.0.*run it with the deployed one alone'):
        preflight.deployed(sweep, records(deployed, config))


def test_a_static_service_needs_the_real_servers_set_up_for_its_forwarding():
    config = ClusterConfig()
    static = Plan('schedulers', config, target=MACHINES)
    deployed = heartbeat(config)
    preflight.deployed(static, records(deployed, config))       # any stack: it is stopped
    tun = ClusterConfig(forwarding='tun')
    with pytest.raises(UsageError, match="laico2: forwarding: deployed 'tun', asked 'dr'"):
        preflight.deployed(static, records(heartbeat(tun), tun))
    with pytest.raises(UsageError, match='client: nothing is deployed'):
        preflight.deployed(static, dict(records(deployed, config), client=''))


def test_more_client_addresses_than_the_inventory_allows_are_refused():
    plan = Plan('load', ClusterConfig(client_addresses=1000), target=MACHINES)
    assert preflight.target_problems(plan) == [
        "1000 client addresses: the inventory allows 1 (its cluster's client_addresses)"]
    assert preflight.target_problems(Plan('load', ClusterConfig(), target=MACHINES)) == []


def test_a_scheduled_fault_the_inventory_has_no_command_for_is_refused_naming_it():
    config = ClusterConfig()
    schedule = ReplaySchedule([ScheduledFault(5, 'crash', 'laicoz', 20),
                               ScheduledFault(40, 'power-off', 'laicoy', 20)], 90)
    plan = Plan('availability', config, heartbeat(config), target=MACHINES,
                scenario=Scenario('availability', [schedule], []))
    with pytest.raises(ConfigError, match='power-off on laicoy needs power_off and power_on in the inventory'):
        preflight.target_problems(plan)


def test_fencing_on_machines_needs_the_power_commands_of_both_directors():
    """Pacemaker's fence agent switches a director off through the inventory's power
    commands: laicoy has none in this inventory, so fencing is refused, naming it;
    --fencing off runs anywhere."""
    config = ClusterConfig()
    cls = ha.get('pacemaker')
    fencing = Plan('failover', config, cls(config), target=MACHINES)
    with pytest.raises(ConfigError, match='pacemaker fences through the inventory\'s power '
                                          r'\(or --fencing off\): power-off on laicoy needs '
                                          'power_off and power_on'):
        preflight.target_problems(fencing)
    off = Plan('failover', config, cls(config, cls.Settings(fencing='off')), target=MACHINES)
    assert preflight.target_problems(off) == []
    both = inventory.load(str(ROOT / 'tests' / 'data' / 'machines.yml'))
    both.machines['laicoy'].commands.update(power_off='virsh destroy laicoy',
                                            power_on='virsh start laicoy')
    assert preflight.target_problems(Plan('failover', config, cls(config), target=both)) == []


def test_a_machine_to_starve_needs_cgroup_v2s_cpu_controller(monkeypatch):
    """The starve fault caps a machine's processes in a cgroup of their own: a machine
    without cgroup v2's cpu controller is refused before start, naming it; the question
    is asked only when the plan starves a machine."""
    from topo.engine.steps import Inject
    config = ClusterConfig()
    asked = []

    def answers(machines, ask=None):
        asked.append(ask)
        return {n: '' if n == 'laicoz' else 'cgroup2-cpu\n' for n in machines.machines}
    monkeypatch.setattr(preflight, 'reachable', answers)
    starve = Plan('faults', config, heartbeat(config), target=MACHINES, scenario=Scenario(
        'starve', [Inject('starve', 'laicoz', share=0.1, cycle=1.0)], []))
    assert preflight.target_problems(starve) == []
    with pytest.raises(UsageError, match='starve on laicoz: no cgroup v2 with its cpu '
                                         'controller at /sys/fs/cgroup'):
        preflight.starvable(starve)
    starve.scenario.steps[0].target = 'laicoy'
    preflight.starvable(starve)                                 # laicoy has it
    preflight.starvable(Plan('failover', config, heartbeat(config), target=MACHINES))
    assert asked == [preflight.CGROUP_CPU] * 2                  # (not for a plan without)
