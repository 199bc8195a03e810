"""The one way the testbed writes a daemon's config: a Jinja2 template rendered
with the settings of Ansible's `template` module, from plain data (what JSON can
carry). The deployment's playbook (deploy/) renders the same template files from
the same variables, so the emulated cluster and a real one cannot drift apart
(a test renders both ways and compares the bytes)."""
import json
from pathlib import Path

# ansible.builtin.template's defaults: a block tag's own newline dropped, the
# template's last newline kept, an undefined variable an error
OPTIONS = {'trim_blocks': True, 'lstrip_blocks': False, 'keep_trailing_newline': True}


class TemplateError(RuntimeError):
    """A template that cannot be rendered from the variables given."""


def plain(variables):
    """The variables as JSON would carry them (as `ansible-playbook -e @vars.json` gets
    them); TypeError for anything else (an object would render differently there)."""
    return json.loads(json.dumps(variables))


def render(template, variables):
    """The text of template (a path) rendered from variables (plain data)."""
    import jinja2
    template = Path(template)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template.parent)),
                             undefined=jinja2.StrictUndefined, **OPTIONS)
    try:
        return env.get_template(template.name).render(plain(variables))
    except jinja2.TemplateError as e:
        raise TemplateError('%s: %s' % (template.name, e))
