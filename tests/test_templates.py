"""The daemons' configs are Jinja2 templates rendered from plain data with the
settings of Ansible's `template` module (topo/render.py): the same template files
and variables give the same bytes through the testbed and through
`ansible-playbook`, so an emulated cluster and a deployed one cannot drift apart."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import stack_from_flags
from topo import render
from topo.ha import ScratchDirector
from topo.ha.daemons import TEMPLATES
from topo.network import roles
from topo.network.config import DIRECTORS, ClusterConfig
from topo.network.webserver import TEMPLATE as NGINX, NginxServer

needs_ansible = pytest.mark.skipif(not shutil.which('ansible-playbook'),
                                   reason='ansible-core not installed (./testbed setup)')

# every template, in the variants whose variables differ the most
CASES = {'heartbeat': ['--forwarding', 'nat'],
         'heartbeat ': ['--hot-standby', '--resources', 'stock', '--crossover'],
         'keepalived': ['--forwarding', 'nat', '--advert-int', '1', '--nice-failback',
                        '--sync-daemon'],
         'keepalived ': ['--crossover', '--forwarding', 'tun', '--tun-type', 'gue'],
         'pacemaker': ['--forwarding', 'nat', '--crossover'],
         'pacemaker ': ['--hot-standby', '--fencing', 'off', '--nice-failback']}


def rendered(tmp_path):
    """[(template, variables, the testbed's text)] of every config of the cases."""
    out = []
    for n, (name, flags) in enumerate(CASES.items()):
        stack = stack_from_flags(name.strip(), *flags)
        for d in DIRECTORS:
            director = ScratchDirector(d, tmp_path / str(n), stack.private_dirs(),
                                       links=2 if stack.config.crossover else 1,
                                       inside=stack.config.nat)
            for daemon in stack.daemons(director):
                written = daemon.render_configs()
                for template, path in zip(daemon.templates, written):
                    out.append((TEMPLATES / (template + '.j2'), daemon.context(),
                                path.read_text()))
    web = NginxServer('laico2', 80, tmp_path / 'web')
    out.append((NGINX, web.variables(), web.render().read_text()))
    for forwarding, tun_type, remote in (('dr', 'ipip', False), ('nat', 'ipip', False),
                                         ('tun', 'gue', True), ('tun', 'gre', False)):
        config = ClusterConfig(forwarding=forwarding, tun_type=tun_type,
                               remote_servers=remote)
        server = RealServer(config)
        variables = server.forwarding_variables()
        out.append((roles.FORWARDING_TEMPLATE, variables,
                    render.render(roles.FORWARDING_TEMPLATE, variables)))
    return out


class RealServer(roles.RealServer):
    """laico2's role without a node: what its forwarding set-up is rendered from."""
    name = 'laico2'

    def __init__(self, config):
        self.vip, self.forwarding, self.tun_type = config.vip, config.forwarding, config.tun_type
        self.gateway = config.gateway

    def interfaces(self):
        return ['laico2-eth0']


def test_variables_are_plain_data_and_undefined_ones_are_errors(tmp_path):
    configs = rendered(tmp_path)
    every = {p.name for p in list(TEMPLATES.glob('*.j2')) + [NGINX, roles.FORWARDING_TEMPLATE]}
    assert {template.name for template, _, _ in configs} == every and len(every) == 10
    for template, variables, text in configs:
        assert render.plain(variables) == variables             # JSON carries them as they are
        assert '{{' not in text and '{%' not in text
        with pytest.raises(render.TemplateError, match='undefined'):
            render.render(template, {})
    with pytest.raises(TypeError):
        render.plain({'node': object()})


@needs_ansible
def test_ansible_renders_the_same_bytes(tmp_path):
    """One play per config: its variables as a vars file, Ansible's template module."""
    configs = rendered(tmp_path / 'testbed')
    plays = []
    for i, (template, variables, _) in enumerate(configs):
        (tmp_path / ('vars-%d.json' % i)).write_text(json.dumps(variables))
        plays.append({'hosts': 'localhost', 'gather_facts': False,
                      'vars_files': [str(tmp_path / ('vars-%d.json' % i))],
                      'tasks': [{'ansible.builtin.template': {
                          'src': str(template), 'dest': str(tmp_path / ('ansible-%d' % i))}}]})
    (tmp_path / 'play.yml').write_text(json.dumps(plays))      # JSON is YAML
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_REMOTE_TEMP=str(tmp_path / 'tmp'), HOME=str(tmp_path),
               ANSIBLE_PYTHON_INTERPRETER='/usr/bin/python3')
    p = subprocess.run(['ansible-playbook', '-i', 'localhost,', '-c', 'local',
                        str(tmp_path / 'play.yml')], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:]
    assert 'reserved name' not in p.stdout and '[WARNING]' not in p.stdout, p.stdout[-3000:]
    for i, (template, _, text) in enumerate(configs):
        assert (tmp_path / ('ansible-%d' % i)).read_text() == text, template.name
