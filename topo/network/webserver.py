"""The real servers' web server: Debian's nginx, one config, pid file and logs per
server in a directory of its own (template: topo/network/templates/nginx.conf.j2).

Every page names the server that served it (body and X-Served-By header), so a
client can tell who answered; /alive.html is ldirectord's health-check page.
nginx, not a Python server: it is event-driven, so thousands of simultaneous
connections cost a real server one process, as on a production cluster.
"""
import time
from pathlib import Path

from topo import render

HEALTH_PATH = '/alive.html'
HEALTH_BODY = 'alive'
SERVED_BY = 'X-Served-By'
VERSION = 'X-Version'       # the page's version: what a rolling upgrade changes
WORK_PATH = '/work.html'        # the CPU-costly page (gzip of WORK_BYTES per request)
WORK_BYTES = 1 << 20
TEMPLATE = Path(__file__).resolve().parent / 'templates' / 'nginx.conf.j2'
BINARY = '/usr/sbin/nginx'
# enough for the load experiment's 5,000 simultaneous clients, each on its own connection
CONNECTIONS = 16384


class NginxServer:
    def __init__(self, name, port, directory, ipv6=False):
        self.name, self.port, self.ipv6 = name, port, ipv6
        self.version = 1
        self.dir = Path(directory)
        self.conf = self.dir / 'nginx.conf'
        self.pid_file = self.dir / 'nginx.pid'
        self.error_log = self.dir / 'error.log'
        self.access_log = self.dir / 'access.log'

    def render(self):
        for sub in ('body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'):
            (self.dir / 'tmp' / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(render.render(TEMPLATE, self.variables()))
        line = ('%s ' % self.name).encode()
        (self.dir / WORK_PATH.lstrip('/')).write_bytes(line * (WORK_BYTES // len(line)))
        return self.conf

    def variables(self):
        """The template's variables (plain data: the deployment renders it too)."""
        return dict(
            server_name=self.name, listen_port=self.port, dir=str(self.dir), nofile=CONNECTIONS * 2 + 64,
            connections=CONNECTIONS, backlog=CONNECTIONS, health_path=HEALTH_PATH,
            health_body=HEALTH_BODY, work_path=WORK_PATH, version=self.version,
            ipv6=self.ipv6)

    def command(self):
        """In the foreground (the node's popen owns it); -e: errors before the config is read."""
        return [BINARY, '-e', str(self.error_log), '-p', str(self.dir), '-c', str(self.conf),
                '-g', 'daemon off;']

    def check_command(self):
        return self.command()[:-2] + ['-t', '-q']

    def prepare(self):
        """A fresh start: no pid file of a killed predecessor (power-off)."""
        self.render()
        try:
            self.pid_file.unlink()
        except FileNotFoundError:
            pass

    def wait_ready(self, proc, timeout=60):
        """nginx writes its pid file after its listening socket is bound: wait for it
        (no process spawned per poll: they are slow under UML)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.pid_file.exists() and self.pid_file.read_text().strip():
                return int(self.pid_file.read_text())
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError('the web server (nginx) of %s did not start (exit %s): %s'
                           % (self.name, proc.poll(), self.errors() or 'no error logged'))

    def errors(self, lines=5):
        try:
            return ' | '.join(self.error_log.read_text().splitlines()[-lines:])
        except OSError:
            return ''

    def answered(self):
        """Requests answered so far, from the access log (buffered: flushed each second)."""
        try:
            with open(self.access_log, 'rb') as f:
                return sum(chunk.count(b'\n') for chunk in iter(lambda: f.read(1 << 16), b''))
        except FileNotFoundError:
            return 0


def raise_limits(nofile=CONNECTIONS * 4):
    """For a child before exec: enough open files for thousands of connections."""
    import resource
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
