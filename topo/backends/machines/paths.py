"""Where the testbed's own files live on a machine: one place for the SSH backend
(what it runs there) and the deployment (what the playbook puts there: its roles and
the node script read these as the variable hatestbed_paths)."""
ETC = '/etc/hatestbed'
AGENTS = '/opt/hatestbed'               # the testbed's topo package, for its agents
AGENTS_ARCHIVE = '/opt/hatestbed.tar'   # what the deployment copies (unpacked on change)
NODE_SCRIPT = ETC + '/node.sh'          # deploy/templates/node.sh.j2
DEPLOYMENT = ETC + '/deployment.json'   # what was deployed, which a run compares
REALSERVER_SCRIPT = ETC + '/realserver.sh'
NGINX_CONF = ETC + '/nginx.conf'
WEB = '/var/lib/hatestbed/web'
# a run changed the deployed configs of the stack (a growth's reload): the next run's
# reset renders the deployed ones back
CONFIGS_CHANGED = ETC + '/configs-changed'


def variables():
    """hatestbed_paths, the playbook's names for them."""
    return {'etc': ETC, 'agents': AGENTS, 'agents_archive': AGENTS_ARCHIVE,
            'node_script': NODE_SCRIPT, 'deployment': DEPLOYMENT,
            'realserver_script': REALSERVER_SCRIPT, 'nginx_conf': NGINX_CONF, 'web': WEB}
