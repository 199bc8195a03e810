"""Steps that send traffic from the client (topo/agents/): the paper's bursts of
requests, the steady prober, sustained load; and the proof that the hub floods."""
import re

from topo.agents import events
from topo.engine.run import Burst as BurstResult, stage
from topo.network.config import CLIENT


def burst(network, count=15, timeout=5.0, log=stage, sources=None):
    """count sequential HTTP requests from the client to the VIP: one dict per request.
    sources: (first address, how many), request i from the i-th of them in turn."""
    extra = ['--sources', sources[0], '--source-count', sources[1]] if sources else []
    proc = network.client.agent('topo.agents.httpclient', 'burst', '--url', network.url(),
                                '--count', count, '--timeout', timeout, *extra)
    out, _ = proc.communicate(timeout=count * (timeout + 1) + 60)
    replies = []
    for line in out.splitlines():
        event = events.parse(line)
        if event and event['kind'] == 'reply':
            replies.append(event)
        else:
            log('client: ' + line)
    return replies


def answers_of(replies):
    """{server or 'failed': requests} of a burst's replies."""
    answers = {}
    for r in replies:
        key = r.get('server') if r['ok'] else 'failed'
        answers[key] = answers.get(key, 0) + 1
    return answers


class Burst:
    """count sequential requests from the client (the paper's browser reloads)."""

    def __init__(self, count=15):
        self.count = count

    def __call__(self, run):
        replies = burst(run.network, self.count)
        run.measured.bursts.append(BurstResult(self.count, answers_of(replies)))
        stage('answers: %s' % run.measured.bursts[-1].answers)


class StartProber:
    """A steady rate of requests through the VIP for the rest of the run (probe.csv)."""
    steady = True       # (the run's traffic from now on: Run.run)

    def __call__(self, run):
        m = run.measure
        run.set_stage('steady')
        run.prober = run.network.client.agent(
            'topo.agents.httpclient', 'probe', '--url', run.network.url(), '--rate', m.probe_rate,
            '--timeout', m.probe_timeout, '--stage-file', run.network.stage_file)
        run.rec.attach(CLIENT, run.prober, run.network.client.clock_offset_s)
        if run.wait('the prober to get answers', lambda r: r.probes_ok >= 5):
            stage('prober running at %.0f requests/s' % m.probe_rate)


class StartLoad:
    """Sustained load from the client (topo/agents/loadgen.py) for the rest of the run:
    requests (one connection each) or, with keepalive, long-lived sessions. Its
    per-second events go into the run's events as node 'load'."""
    NODE = 'load'
    steady = True

    def __init__(self, clients, keepalive=False, interval=0.2, timeout=5.0):
        self.clients, self.keepalive = clients, keepalive
        self.interval, self.timeout = interval, timeout

    def __call__(self, run):
        args = ['--url', run.network.url(), '--clients', self.clients, '--timeout', self.timeout,
                '--ramp', max(1.0, self.clients / 500.0)]
        if self.keepalive:
            args += ['--keepalive', '--interval', self.interval]
        if run.config.client_sources:
            first, count = run.config.client_sources
            args += ['--sources', first, '--source-count', count]
        run.load = run.network.client.agent('topo.agents.loadgen', *args)
        run.rec.attach(self.NODE, run.load, run.network.client.clock_offset_s)
        if run.wait('the load generator to start its %d clients' % self.clients,
                    lambda r: r.node(self.NODE)['ready']):
            stage('load: %d %s' % (self.clients, 'sessions, a request every %gs each'
                                   % self.interval if self.keepalive
                                   else 'clients, one connection per request'))


class StopLoad:
    """Stop the load generator; its closing 'done' event is what it measured."""

    def __call__(self, run):
        proc = run.load
        if proc is None:
            return
        run.network.client.stop_agent(proc)
        mine = lambda e: e['kind'] == 'done' and e['node'] == StartLoad.NODE
        t = run.rec.wait_for(lambda r: any(mine(e) for e in r.events[-50:]), 30)
        done = [e for e in run.rec.events if mine(e)]
        if t is None or not done:
            run.fail('the load generator did not report its totals')
            return
        run.measured.load_done = done[-1]
        stage('load stopped: %d answered, failed %s, its CPU %.1f s'
              % (done[-1]['ok'], done[-1]['failed'] or 'none', done[-1]['cpu_s']))


class VerifyHub:
    """Prove the network forwards before anything is measured: unicast pings from the
    client are answered, and where the backend's network is a hub (the emulation's)
    a third host sees them too. Every run does this first (Run.run): a switch that
    forwards nothing (an Open vSwitch with no upcall handler, say) would otherwise
    turn every measurement into a list of timeouts."""

    def __init__(self, frames=10, observer='laicoy', timeout=20):
        self.frames, self.observer, self.timeout = frames, observer, timeout

    def __call__(self, run):
        net = run.network
        # (with NAT or remote TUN the real servers are off the hub)
        src, third = net.client, net[self.observer]
        dst = net.director() if run.config.servers_inside else net.real_servers[0]
        # (active/active: the client is behind the router, which puts its frames on the hub)
        sender = net[run.config.router] if run.config.active_active else src
        src.cmd('ping -c1 -W2 %s' % dst.address())   # ARP first: what follows is unicast
        sniffer = None
        if net.floods:
            sniffer = third.agent('topo.agents.sniff', '--iface', third.interfaces()[0],
                                  '--src', sender.mac(), '--dst', dst.mac(),
                                  '--want', self.frames, '--timeout', self.timeout)
            events.read_until(sniffer, events.is_kind('ready'), self.timeout, 'the sniffer')
        out = src.cmd('ping -c %d -i 0.05 -W1 %s' % (self.frames, dst.address()))
        answered = ping_received(out)
        hub = {'observer': self.observer if sniffer else None, 'from': src.name,
               'to': dst.name, 'sent': self.frames, 'answered': answered}
        if sniffer:
            hub['seen_by_observer'] = events.read_until(
                sniffer, events.is_kind('count'), self.timeout + 5, 'the count')['seen']
            sniffer.wait(timeout=5)
        hub['verified'] = answered == self.frames and hub.get('seen_by_observer',
                                                               self.frames) >= self.frames
        run.measured.hub_check = hub
        stage('network: %d of %d unicast pings %s -> %s answered%s' % (
            answered, self.frames, src.name, dst.name,
            '; %s saw %d of them (a hub)' % (self.observer, hub['seen_by_observer'])
            if sniffer else ''))
        return hub


def ping_received(out):
    """How many replies `ping -c N` got, from its statistics line (0 if none)."""
    m = re.search(r'(\d+) (?:packets )?received', out or '')
    return int(m.group(1)) if m else 0
