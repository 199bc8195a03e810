"""One daemon of a director's HA stack dies (SIGKILL) while the others run on:
Pacemaker's Cluster Test Suite calls it ComponentFail for a part of the stack itself
(corosync, pacemaker-controld: the node's membership or brain is gone, its peer fences
it) and ResourceRecover for a resource (ldirectord: the stack's monitor should find it
and start it again in place). Other stacks: keepalived's checker or VRRP child,
heartbeat's master. clear() is the admin's: nothing if every daemon that ran before is
running again by itself, else what died started again (the whole stack died: its
restart, as after a crash)."""
import time

from topo.faults import Fault, register


@register
class Kill(Fault):
    name = 'kill'
    description = "SIGKILL of one daemon of the stack (CTS's ComponentFail, ResourceRecover)"
    inject_word, clear_word = 'daemon killed', 'revived'
    commands = ('kill', 'revive')
    targets = 'director'
    clear_boots = True
    params = {'daemon': ''}
    param_help = {'daemon': "the process killed, one of the target's stack (e.g. corosync, "
                            'pacemaker-controld, ldirectord, keepalived, heartbeat; default: '
                            "the stack's last daemon, its resource: ldirectord, or keepalived)"}

    @staticmethod
    def daemon(params, stack):
        """The process name to kill (a name as ps shows it: the kernel keeps 15
        characters of it, so pacemaker-controld is pacemaker-contr)."""
        name = params['daemon'] or stack.daemon_classes[-1].processes[0]
        return name if name.startswith('/') else name[:15]

    @classmethod
    def check_stack(cls, params, stack):
        names = stack.processes()
        if cls.daemon(params, stack) not in names:
            raise ValueError('--daemon %s is not a process of the %s stack: one of %s'
                             % (params['daemon'], stack.name, ', '.join(names)))

    def _inject(self):
        stack = self.network.stack
        self.running = [n for n in stack.processes() if self.node.processes([n])]
        daemon = self.daemon(self.options, stack)
        self.killed = self.node.kill(names=[daemon])
        if not self.killed:
            raise RuntimeError('%s: no %s process to kill' % (self.target, daemon))
        return time.time()

    def _clear(self):
        t = time.time()
        missing = [n for n in self.running if not self.node.processes([n])]
        self.recovered = not missing
        if not missing:
            return t
        stack = self.network.stack
        daemons = stack.daemons(self.node)
        dead = [d for d in daemons if set(d.processes) & set(missing)]
        if len(dead) < len(daemons):    # the admin starts again what died, no more
            stack.run_steps(self.node, stack.daemon_steps(*dead))
            return t
        # the whole stack: its restart, as after a crash
        self.node.kill(names=stack.processes())
        self.node.clear_state()
        t = time.time()
        self.network.boot(self.target)
        return t
