"""One class per daemon: it renders its config templates (topo/templates/) into
a director's private directories and starts or stops the daemon there."""
import os
import string
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / 'templates'


class Daemon:
    # template name -> path inside the node, e.g. {'ha.cf': '/etc/ha.d/ha.cf'}
    templates = {}
    secret_files = ()       # paths inside the node that must be mode 600
    scripts = {}            # executable file (copied as is) -> path inside the node

    def __init__(self, node, **options):
        self.node = node
        self.options = options

    def context(self):
        """Values for the templates: the options plus what the node adds."""
        return dict(self.options, node=self.node.name, iface=self.node.defaultIntf().name)

    def render(self):
        """Write every config file into the node's private directories; return their host paths."""
        ctx = self.context()
        written = []
        for template, inside in self.templates.items():
            text = string.Template((TEMPLATES / template).read_text()).substitute(ctx)
            path = Path(self.node.private(inside))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            os.chmod(path, 0o600 if inside in self.secret_files else 0o644)
            written.append(path)
        for script, inside in self.scripts.items():
            path = Path(self.node.private(inside))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes((TEMPLATES / script).read_bytes())
            os.chmod(path, 0o755)
            written.append(path)
        return written

    def start(self):
        raise NotImplementedError

    def stop(self):
        pass
