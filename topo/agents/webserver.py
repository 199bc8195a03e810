"""The real servers' HTTP server: every page names the server that served it,
so the client can tell who answered; /alive.html is the health-check page."""
import argparse
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from topo.agents.events import emit

HEALTH_PATH = '/alive.html'
HEALTH_BODY = 'alive'
SERVED_BY = 'X-Served-By'


def handler_for(name):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.0'      # one request per connection, as a 2000s browser

        def do_GET(self):
            body = ((HEALTH_BODY if self.path == HEALTH_PATH else name) + '\n').encode()
            self.send_response(200)
            self.send_header('Content-Type', 'text/plain')
            self.send_header('Content-Length', str(len(body)))
            self.send_header(SERVED_BY, name)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    return Handler


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--name', required=True)
    p.add_argument('--port', type=int, default=80)
    a = p.parse_args(argv)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(('0.0.0.0', a.port), handler_for(a.name))
    emit('ready')      # the node waits for this line
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
