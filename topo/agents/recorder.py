"""Collects the event lines of the in-node programs (director monitors, the
client's prober; schema in topo/agents/events.py) as they happen, keeps each
director's latest state, writes every event to events.jsonl, and lets the
experiment wait for a state."""
import json
import threading
import time

from topo.agents import events as schema


class Recorder:
    def __init__(self, events_path=None, on_probe=None):
        self.events = []                # everything but probes, in arrival order
        self.state = {}                 # node -> {'vip': bool, 'table': {service: [reals]}}
        self.probes = []
        # what the waits ask about the probes, kept up to date: no rescan per event
        self.probes_ok = 0
        self.last_ok_sent = None        # send time of the latest answered probe
        self.on_probe = on_probe
        self.cond = threading.Condition()
        self.file = open(events_path, 'a') if events_path else None

    def attach(self, node, proc, clock_offset_s=0.0):
        """Read proc's event lines (from node, whose clock runs clock_offset_s ahead of
        this one: its times are put on this clock) in a background thread."""
        threading.Thread(target=self._read, args=(node, proc, clock_offset_s), daemon=True,
                         name='recorder-%s' % node).start()

    def _read(self, node, proc, clock_offset_s):
        for line in proc.stdout:
            self.add(node, line, clock_offset_s)

    def note(self, node, kind, t=None, **fields):
        """An event the testbed itself sees (a link set down), in the same stream."""
        self.add(node, json.dumps(dict(fields, kind=kind, t=round(t or time.time(), 4))))

    def add(self, node, line, clock_offset_s=0.0):
        """Take one line a program of `node` said."""
        event = schema.parse(line)
        if event is None:
            event = {'kind': 'output', 'line': line.rstrip(), 't': round(time.time(), 3)}
        elif clock_offset_s and isinstance(event.get('t'), (int, float)):
            event['t'] = round(event['t'] - clock_offset_s, 6)
        event['node'] = node
        with self.cond:
            if event['kind'] == 'probe':
                self.probes.append(event)
                if event.get('ok'):
                    self.probes_ok += 1
                    self.last_ok_sent = max(self.last_ok_sent or 0, event['t'])
                if self.on_probe:
                    self.on_probe(event)
            else:
                self.events.append(event)
                st = self.state.setdefault(node, self.fresh())
                if event['kind'] == 'vip':
                    st['vip'] = event['held']
                elif event['kind'] == 'link':
                    st['link'] = event['up']
                elif event['kind'] == 'arp':
                    st['arp'] = event['mac']
                elif event['kind'] == 'ipvs':
                    st['table'] = event['table']
                elif event['kind'] == 'ready':
                    st['ready'] = True
            if self.file:
                self.file.write(json.dumps(event) + '\n')
                self.file.flush()
            self.cond.notify_all()

    def wait_for(self, predicate, timeout):
        """Block until predicate(recorder) is true; the time it became true, or None."""
        end = time.monotonic() + timeout
        with self.cond:
            while not predicate(self):
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.5))
            return time.time()

    @staticmethod
    def fresh():
        return {'vip': False, 'table': {}, 'ready': False, 'link': True, 'arp': None}

    def node(self, name):
        return self.state.get(name, self.fresh())

    def owners(self, names):
        """The directors that hold the VIP with their links up: a director whose
        cable is out (or that is switched off) serves nobody, whatever its kernel says."""
        return [n for n in names if self.node(n)['vip'] and self.node(n)['link']]

    def reals(self, name, service):
        return set(self.node(name)['table'].get(service, []))

    def close(self):
        with self.cond:
            if self.file:
                self.file.close()
                self.file = None
