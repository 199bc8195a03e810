"""Each fault's inject() and clear() on the node backend's primitives (a stand-in
network that records which primitive was asked for: no kernel needed), the events
each fault records, and their targets and parameters checked before anything starts."""
import signal
import time

import pytest

from topo import faults
from topo.backends import Network, Node
from topo.ha import BootStep
from topo.network.config import ClusterConfig


class RecordingNode(Node):
    """A node that records what it was asked, with a heartbeat, an nginx and a shell."""
    WEB = ('nginx',)
    PROCESSES = {1: 'heartbeat', 2: 'nginx', 3: 'sh'}

    def __init__(self, name, calls):
        self.name, self.calls = name, calls

    def _call(self, *args):
        self.calls.append((self.name,) + args)
        return time.time()

    def cmd(self, *args): return self._call('cmd') and ''           # noqa: E704
    def popen(self, argv, **kw): self._call('popen')                 # noqa: E704
    def agent(self, module, *args, **kw): self._call('agent')        # noqa: E704
    def interfaces(self): return ['%s-eth0' % self.name]              # noqa: E704
    def address(self): return '10.0.14.2'                             # noqa: E704
    def mac(self): return '00:00:00:00:00:01'                         # noqa: E704
    def set_links(self, up, lan_only=False): return self._call('links', up, lan_only)  # noqa
    def processes(self, names=None):
        return [p for p, n in self.PROCESSES.items() if names is None or n in names]
    def signal(self, sig, pids): self._call('signal', sig, tuple(pids))                 # noqa
    def set_loss(self, percent): self._call('loss', percent)         # noqa: E704
    def private(self, path): raise ValueError(path)                  # noqa: E704
    def proc_net(self, name): return ''                              # noqa: E704
    def clear_state(self): self._call('clear_state')                 # noqa: E704


class RecordingNetwork:
    def __init__(self):
        self.calls, self.events = [], []
        self.nodes = {}
        self.recorder = self
        self.stack = type('Stack', (), {
            'processes': staticmethod(lambda: ['heartbeat']),
            'stop_steps': staticmethod(lambda node: [BootStep('kill -TERM 1')])})
        self.config = ClusterConfig()
        self.fenced_off = set()

    def __getitem__(self, name):
        return self.nodes.setdefault(name, RecordingNode(name, self.calls))

    def note(self, node, kind, t=None, **fields):
        self.events.append(dict(fields, node=node, kind=kind, t=t))

    def cut(self, a, b):
        self.calls.append(('hub', 'cut', a, b))
        return time.time()

    def heal(self):
        self.calls.append(('hub', 'heal'))
        return time.time()

    def boot(self, name):
        self.calls.append((name, 'boot'))

    def starve(self, name, share, period_s):
        self.calls.append((name, 'starve', share, period_s))
        return time.time()

    def feed(self, name):
        self.calls.append((name, 'feed'))
        return time.time()

    # the emulation's power (the ssh backend has the inventory's commands instead)
    power_off, power_on = Network.power_off, Network.power_on


STOP, KILL, CONT = signal.SIGSTOP, signal.SIGKILL, signal.SIGCONT


@pytest.mark.parametrize('fault, target, injected, cleared', [
    ('power-off', 'laicoz',
     [('laicoz', 'links', False, False), ('laicoz', 'signal', STOP, (1, 2, 3)),
      ('laicoz', 'signal', KILL, (1, 2, 3)), ('laicoz', 'clear_state')],
     [('laicoz', 'clear_state'), ('laicoz', 'links', True, False), ('laicoz', 'boot')]),
    ('cable-pull', 'laicoy', [('laicoy', 'links', False, True)], [('laicoy', 'links', True, True)]),
    ('crash', 'laicoz', [('laicoz', 'signal', STOP, (1,)), ('laicoz', 'signal', KILL, (1,))],
     [('laicoz', 'clear_state'), ('laicoz', 'boot')]),
    ('partition', 'laicoz', [('hub', 'cut', 'laicoz', 'laicoy')], [('hub', 'heal')]),
    ('loss', 'laicoz', [('laicoz', 'loss', 30.0)], [('laicoz', 'loss', 0)]),
    ('hang', 'laico3', [('laico3', 'signal', STOP, (2,))], [('laico3', 'signal', CONT, (2,))]),
    ('starve', 'laicoy', [('laicoy', 'starve', 0.1, 1.0)], [('laicoy', 'feed')]),
    # a planned hand-over: the stack's own stop, run in the node; cleared: what did not
    # stop killed, the stack started as at boot
    ('stop', 'laicoz', [('laicoz', 'cmd')],
     [('laicoz', 'signal', STOP, (1,)), ('laicoz', 'signal', KILL, (1,)),
      ('laicoz', 'clear_state'), ('laicoz', 'boot')]),
])
def test_inject_and_clear_on_the_primitives(fault, target, injected, cleared):
    net = RecordingNetwork()
    f = faults.get(fault)(net, target)
    t = f.inject()
    assert net.calls == injected and f.injected_at == t
    del net.calls[:]
    assert f.clear() >= t and net.calls == cleared
    # every inject and clear is in the run's one event stream, links as link events
    acts = [(e['fault'], e['action']) for e in net.events if e['kind'] == 'fault']
    assert acts == [(fault, 'inject'), (fault, 'clear')]
    links = [e['up'] for e in net.events if e['kind'] == 'link']
    assert links == ([False, True] if fault in ('power-off', 'cable-pull') else [])


@pytest.mark.parametrize('fault, fenced', [('crash', 'laicoz'), ('power-off', 'laicoz'),
                                           ('partition', 'laicoy'), ('partition', 'laicoz'),
                                           ('cable-pull', 'laicoy')])
def test_a_node_fenced_off_during_the_fault_is_repaired_by_the_clear(fault, fenced):
    """Fencing with action off leaves a director off until repaired: the clear undoes
    the fault (a cut healed), then powers the fenced node on; where the undo is itself a
    boot (a crash's restart, a power-on), the power-on is the undo."""
    net = RecordingNetwork()
    f = faults.get(fault)(net, 'laicoz')
    f.inject()
    net.fenced_off.add(fenced)
    del net.calls[:]
    f.clear()
    on = [(fenced, 'clear_state'), (fenced, 'links', True, False), (fenced, 'boot')]
    undo = {'partition': [('hub', 'heal')], 'cable-pull': [('laicoz', 'links', True, True)],
            'crash': [], 'power-off': []}[fault]
    assert net.calls == undo + on
    assert net.fenced_off == set()
    assert [(e['node'], e['up']) for e in net.events if e['kind'] == 'link'][-1] == (fenced, True)


def test_a_director_fenced_after_the_clear_is_repaired_while_the_run_waits():
    """A membership can break as the fault ends (30 % loss: laicoy fenced 1 s after the
    clear, one sweep trial never came back within 90 s): the wait for the figure-5 state
    powers it on, as the clear does, and goes on waiting."""
    import threading
    from types import SimpleNamespace
    from topo.agents.recorder import Recorder
    from topo.engine.run import FaultRecord, History
    from topo.engine.steps.cluster import WaitRecovered
    net = RecordingNetwork()
    net.fenced_off.add('laicoy')
    rec = Recorder()
    rec.state = {'laicoz': dict(Recorder.fresh(), vip=True), 'laicoy': Recorder.fresh()}

    def boot(name):                     # laicoy back up: it stands by
        net.calls.append((name, 'boot'))
        threading.Timer(0.2, lambda: rec.state[name].update(ready=True)).start()
    net.boot = boot
    history = History()
    history.faults.append(FaultRecord('loss', 'laicoz', time.time() - 20, cleared=time.time()))
    run = SimpleNamespace(network=net, rec=rec, history=history, nice=False,
                          measure=SimpleNamespace(wait=10.0), fail=pytest.fail,
                          serving=lambda d: lambda r: r.node(d)['vip'],
                          standing_by=lambda d: lambda r: r.node(d)['ready'])
    WaitRecovered(stable=0.5)(run)
    assert ('laicoy', 'boot') in net.calls and net.fenced_off == set()
    assert history.faults[0].recovered is not None


def test_flap_pulls_and_plugs_count_times_and_ends_plugged():
    net = RecordingNetwork()
    f = faults.get('flap')(net, 'laicoz', count=3, period=0.1)
    f.inject()
    f.clear()
    ups = [c[2] for c in net.calls if c[1] == 'links']
    assert ups.count(False) == 3 and ups[-1] is True and ups[:2] == [False, True]


def test_every_fault_is_in_the_schema_and_the_lab():
    from topo.agents import events
    assert 'fault ' in events.__doc__ and 'link ' in events.__doc__
    for cls in faults.load().values():
        assert cls.commands[0], cls.name        # a lab command to inject it


def test_unknown_parameters_and_faults_are_refused():
    with pytest.raises(ValueError, match='takes no percent'):
        faults.get('cable-pull')(RecordingNetwork(), 'laicoz', percent=3)
    with pytest.raises(ValueError, match='0..100'):
        faults.get('loss')(RecordingNetwork(), 'laicoz', percent=300)
    with pytest.raises(KeyError, match='unknown fault'):
        faults.get('meteor')
    # the kernel's CPU periods: 1 ms to 1 s, at least 1 ms of CPU in each
    for params, match in (({'share': 1.0}, 'between 0 and 1'), ({'cycle': 2.0}, '1 ms to 1 s'),
                          ({'share': 0.01, 'cycle': 0.05}, 'no less than 1 ms')):
        with pytest.raises(ValueError, match=match):
            faults.get('starve')(RecordingNetwork(), 'laicoz', **params)


@pytest.mark.parametrize('fault, target, ok', [
    ('crash', 'laico2', False), ('crash', 'laicoy', True), ('hang', 'laicoz', False),
    ('hang', 'laico4', True), ('power-off', 'client', False), ('power-off', 'laico2', True),
    ('partition', 'laicoz', True), ('loss', 'nosuch', False)])
def test_targets(fault, target, ok):
    cls = faults.get(fault)
    if ok:
        cls.check_target(target, ClusterConfig())
    else:
        with pytest.raises(ValueError):
            cls.check_target(target, ClusterConfig())


@pytest.mark.parametrize('stack, pid_file', [('keepalived', '/run/keepalived.pid'),
                                             ('heartbeat', '/run/heartbeat.pid'),
                                             ('pacemaker', '/run/pacemakerd.pid')])
def test_a_planned_hand_over_is_each_stack_s_own_graceful_stop(tmp_path, stack, pid_file):
    """The daemon that holds the service gets SIGTERM through its own pid file (private
    per director): keepalived's parent, heartbeat's master, pacemakerd (not corosync,
    whose loss would be a node lost and fenced); pacemakerd's is written as it starts."""
    from conftest import stack_from_flags
    from topo.ha import ScratchDirector
    s = stack_from_flags(stack)
    director = ScratchDirector('laicoz', tmp_path, s.private_dirs())
    [step] = s.stop_steps(director)
    assert 'kill -TERM $(cat %s) 2>&1' % pid_file in step.command
    # a daemon not running (its pid file never came) is said, not a shell's usage line
    import subprocess
    out = subprocess.run(['sh', '-c', step.command.replace(pid_file, str(tmp_path / 'none.pid'))
                          .replace('seq 50', 'seq 2')], stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    assert 'is not running (no %s' % (tmp_path / 'none.pid') in out
    if stack == 'pacemaker':
        start = [d for d in s.daemons(director) if d.name == 'pacemaker'][0].start_command()
        assert 'echo $$ > %s' % pid_file in start and 'exec pacemakerd' in start


class TwoDaemonStack:
    """heartbeat and nginx as a stack's two daemons, each started by its own command."""
    daemon_steps = staticmethod(lambda *ds: [BootStep('start %s' % d.name) for d in ds])
    run_steps = staticmethod(lambda node, steps: [node.cmd(s.command) for s in steps])

    @staticmethod
    def daemons(node):
        return [type('D', (), {'name': n, 'processes': (n,)}) for n in ('heartbeat', 'nginx')]

    @classmethod
    def processes(cls):
        return ['heartbeat', 'nginx']


def test_one_daemon_killed_is_cleared_by_starting_only_what_did_not_come_back():
    """CTS's ComponentFail and ResourceRecover: SIGKILL of one process of the stack; the
    clear does nothing if it came back, starts it alone if it did not, restarts the
    stack as after a crash if the whole stack died."""
    net = RecordingNetwork()
    net.stack = TwoDaemonStack
    f = faults.get('kill')(net, 'laicoz', daemon='heartbeat')
    f.inject()
    assert net.calls == [('laicoz', 'signal', STOP, (1,)), ('laicoz', 'signal', KILL, (1,))]
    del net.calls[:]
    f.clear()                               # heartbeat "came back" (pid 1 still listed)
    assert net.calls == [] and f.recovered
    f.inject()
    net['laicoz'].PROCESSES = {2: 'nginx', 3: 'sh'}    # it did not come back
    del net.calls[:]
    f.clear()
    assert net.calls == [('laicoz', 'cmd')] and not f.recovered     # its own start only
    # the stack's one daemon died: the stack restarted as after a crash
    net = RecordingNetwork()
    net.stack = type('OneDaemonStack', (TwoDaemonStack,), {
        'daemons': staticmethod(lambda node: TwoDaemonStack.daemons(node)[:1]),
        'processes': classmethod(lambda cls: ['heartbeat'])})
    f = faults.get('kill')(net, 'laicoz', daemon='heartbeat')
    f.inject()
    net['laicoz'].PROCESSES = {2: 'nginx', 3: 'sh'}
    del net.calls[:]
    f.clear()
    assert net.calls == [('laicoz', 'signal', STOP, ()), ('laicoz', 'signal', KILL, ()),
                         ('laicoz', 'clear_state'), ('laicoz', 'boot')]


def test_the_daemon_killed_must_be_one_of_the_stack_s():
    from conftest import refused, stack_from_flags
    kill = faults.get('kill')
    pacemaker = stack_from_flags('pacemaker')
    kill.check_stack({'daemon': 'corosync'}, pacemaker)
    kill.check_stack({'daemon': ''}, pacemaker)             # its resource: ldirectord
    assert kill.daemon({'daemon': ''}, pacemaker) == 'ldirectord'
    assert kill.daemon({'daemon': ''}, stack_from_flags('keepalived')) == 'keepalived'
    # the kernel keeps 15 characters of a process's name
    assert kill.daemon({'daemon': 'pacemaker-controld'}, pacemaker) == 'pacemaker-contr'
    kill.check_stack({'daemon': 'pacemaker-controld'}, pacemaker)
    with pytest.raises(ValueError, match='not a process of the keepalived stack'):
        kill.check_stack({'daemon': 'corosync'}, stack_from_flags('keepalived'))
    assert 'not a process of the heartbeat stack' in refused(
        'faults', '--fault', 'kill', '--daemon', 'corosync', '--stack', 'heartbeat')
