"""A planned hand-over: the director's HA stack stopped its own graceful way while the
machine runs on (keepalived's priority-0 adverts, heartbeat giving its resources up,
pacemakerd stopping them here for the peer to start), as an admin does before
maintenance. clear() starts the stack again, as at boot."""
import time

from topo.faults import Fault, register


@register
class Stop(Fault):
    name = 'stop'
    description = 'the HA stack stopped gracefully (a planned hand-over); clear: started again'
    inject_word, clear_word = 'stopped', 'started'
    commands = ('stop', 'start')
    clear_boots = True
    director_lost = True
    targets = 'director'

    def _inject(self):
        t = time.time()
        for step in self.network.stack.stop_steps(self.node):
            out = self.node.cmd(step.command).strip()
            if out:
                raise RuntimeError('%s: %s: %s' % (self.target, step.command, out))
        return t

    def _clear(self):
        # what has not stopped by now is killed, as an admin would before a start
        self.node.kill(names=self.network.stack.processes())
        self.node.clear_state()
        t = time.time()
        self.network.boot(self.target)
        return t
