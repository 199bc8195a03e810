"""The one schema of what the testbed's in-node programs say: JSON lines.

Every line a program prints on its standard output is one JSON object with
at least `kind` (what happened) and `t` (wall-clock seconds, as time.time(),
when it was seen or, for a request, when it was sent). The recorder adds
`node` (where the program runs) and keeps every line of a run in its
events.jsonl. The kinds:

  ready      the program is up and watching/serving          every program
  vip        held: bool, the VIP became local or went away   monitor
  gateway    held: bool, NAT's inside gateway became local or went away   monitor --gateway
  also       address, held: bool, another address that moves with the VIP (dual stack:
             the other family's VIP and gateway)   monitor --also
  ipvs       table: {service "ip:port": [real "ip:port", ...]}   monitor
  log        log: file name, line: a new line of a daemon's log   monitor
  arp        mac: where the client's ARP entry for the VIP points (None: none)   monitor --arp
             (IPv6: its neighbour entry), and state: REACHABLE, STALE, DELAY, PROBE, ...
  link       up: bool, the node's links set up or down       the faults that set links
  fault      fault, action ('inject' | 'clear'), target, params: a fault of topo/faults/
             and the time it took effect                     the faults (Fault.record)
  fence      action ('off' | 'on' | 'reboot'): a stack's fencing powered the node
             (topo/ha/fencing.py)                            the run's power switch
  probe      i, stage, ok, server, error, latency_s          httpclient probe
  reply      i, ok, server | error, latency_s                httpclient burst
  opened     batch, count, ok, failed, held, ports, seconds  loadclient
  released   reason, conns, counts, by_batch, seconds        loadclient
  error      error: text                                     loadclient
  count      seen: frames counted                            sniff
  speed      calibration {process_start_s: [...], timer_late_s: [...], load1}, then
             start_s, late_s, load1, away_s every period   speed (real machines)
  load       ok, failed {kind: n}, p50_s, p99_s, max_s, open (one second)   loadgen
  done       ok, failed, elapsed_s, cpu_s [sessions, survived, ...]   loadgen; probes, cpu_s   probe
  output     line: a line that was not JSON (added by the recorder)
"""
import json
import select
import time


def emit(kind, t=None, **fields):
    """Print one event line (flushed at once: the testbed reads it live)."""
    print(json.dumps(dict(fields, kind=kind, t=round(time.time() if t is None else t, 4))),
          flush=True)


def parse(line):
    """The event of one line, or None when the line is not an event."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and 'kind' in event else None


def is_kind(kind):
    """A predicate for read_until: the event of a line when it is of this kind."""
    def accept(line):
        event = parse(line)
        return event if event and event['kind'] == kind else None
    return accept


def read_until(proc, accept, timeout, what):
    """Read proc's output lines until accept(line) returns something true; return that.
    Raises with the last lines it said if that does not come within timeout."""
    seen, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, end - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        found = accept(line)
        if found:
            return found
        seen.append(line.rstrip()[:200])
    raise RuntimeError('waited %.0fs for %s (exit %s); got: %s'
                       % (timeout, what, proc.poll(), ' | '.join(seen[-5:]) or 'nothing'))
