"""Faults that heal without their injector (Jepsen's rule): on a real machine the
control node reaches the node over SSH, and the fault it injects (a link set down, a
firewall rule) may cut that very session. The node is then given the undo with a
deadline: a detached timer runs it by itself when the fault's hold is over, and the
control node's own clear() runs it at once and cancels the timer."""
import shlex

STATE = '/run/hatestbed-heal'      # on the node: one pid file per pending undo


def inject(name, do, undo, hold_s):
    """A shell command for the node: run `do` now, and `undo` after hold_s seconds in a
    process of its own session (setsid, stdio closed), which outlives the SSH session,
    the shell and anything the fault cuts. `name` names the pending undo (clear())."""
    if hold_s <= 0:
        raise ValueError('a self-healing fault needs a hold above 0 s, got %r' % hold_s)
    pid = '%s/%s.pid' % (STATE, name)
    timer = 'sleep %s; rm -f %s; %s' % (_seconds(hold_s), pid, undo)
    # (the mkdir apart: `a && b &` backgrounds a subshell that keeps the session's
    # output open, and an SSH session would wait for the timer.) The pid file is
    # written here, before the fault, not by the timer: a clear() right after would
    # otherwise miss it, and the timer would undo a later fault. A background job of a
    # shell without job control leads no process group, so setsid does not fork: $!
    # is the timer's shell, the leader of its own session and group.
    return ('mkdir -p %s; setsid sh -c %s </dev/null >/dev/null 2>&1 & echo $! > %s; %s'
            % (STATE, shlex.quote(timer), pid, do))


def clear(name, undo):
    """A shell command for the node: cancel the pending undo's timer, if it has not fired
    yet, and run the undo now (running it twice is harmless: e.g. a link set up)."""
    pid = '%s/%s.pid' % (STATE, name)
    # the timer leads its own process group (setsid): its sleep goes with it
    return ('if [ -f %s ]; then kill -- -$(cat %s) 2>/dev/null; rm -f %s; fi; %s'
            % (pid, pid, pid, undo))


def _seconds(value):
    return ('%.3f' % float(value)).rstrip('0').rstrip('.')
