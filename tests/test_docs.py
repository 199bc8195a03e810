"""The front page and docs/ as a newcomer meets them: every relative link (files,
images, #anchors as GitHub makes them) resolves, and every command a page shows in a
code block parses: a script that can plan runs the command with --plan (from a folder of
the user's, with the relative paths as written), the others have every flag it gives in
their --help; `./testbed X` is one of the front door's commands."""
import re
import shlex
import subprocess

import pytest

from conftest import PYTHON, ROOT

PAGES = [ROOT / 'README.md'] + sorted((ROOT / 'docs').rglob('*.md'))
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')


def anchors(page):
    """The #anchors GitHub gives a page's headings (a repeated one gets -1, -2, ...)."""
    seen, out = {}, set()
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith('```'):
            in_code = not in_code
        if in_code or not re.match(r'#{1,6} ', line):
            continue
        text = line.lstrip('#').strip().lower()
        slug = ''.join(c for c in text if c.isalnum() or c in ' -_').replace(' ', '-')
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else '%s-%d' % (slug, n))
    return out


def links(page):
    text = re.sub(r'```.*?```', '', page.read_text(), flags=re.S)   # (not code)
    text = re.sub(r'`[^`\n]*`', '', text)
    return [m.group(1) for m in LINK.finditer(text)
            if not re.match(r'[a-z]+:', m.group(1))]     # http:, mailto: are not ours


def test_the_front_page_fits_on_a_screen_or_two():
    assert len((ROOT / 'README.md').read_text().splitlines()) <= 150


@pytest.mark.parametrize('page', PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    bad = []
    for link in links(page):
        path, _, anchor = link.partition('#')
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            bad.append('%s: no such file' % link)
        elif anchor and target.suffix == '.md' and anchor not in anchors(target):
            bad.append('%s: no heading with that anchor in %s' % (link, target.name))
    assert not bad, bad


def test_every_page_is_reached_from_the_front_page():
    reached, todo = set(), [ROOT / 'README.md']
    while todo:
        page = todo.pop()
        if page in reached:
            continue
        reached.add(page)
        todo += [(page.parent / l.partition('#')[0]).resolve() for l in links(page)
                 if l.partition('#')[0].endswith('.md')]
    assert set(PAGES) - reached == set()


def commands():
    """(page, argv) of every command line in a code block that runs a script or the
    front door (sudo, an environment prefix, comments and redirections dropped)."""
    out = []
    for page in PAGES:
        for block in re.findall(r'```[a-z]*\n(.*?)```', page.read_text(), flags=re.S):
            for line in block.splitlines():
                try:
                    argv = shlex.split(line, comments=True)
                except ValueError:
                    continue
                while argv and (argv[0] == 'sudo' or re.match(r'[A-Z_]+=', argv[0])):
                    argv = argv[1:]
                if '<' in argv:
                    argv = argv[:argv.index('<')]
                if argv[:1] == ['./testbed'] or (
                        argv[:1] in (['python'], ['python3']) and len(argv) > 1
                        and argv[1].startswith('experiments/')):
                    out.append((page.relative_to(ROOT), argv))
    return out


def help_text(script, argv):
    """--help of the script, or of its subcommand when the command names one."""
    cmd = [PYTHON, str(ROOT / script)]
    p = subprocess.run(cmd + ['--help'], stdout=subprocess.PIPE, universal_newlines=True,
                       timeout=60, check=True)
    sub = re.search(r'^usage: \S+ \[-h\] \{([^}]*)\}', p.stdout, re.M)
    if sub and argv and argv[0] in sub.group(1).split(','):
        p = subprocess.run(cmd + [argv[0], '--help'], stdout=subprocess.PIPE,
                           universal_newlines=True, timeout=60, check=True)
    elif sub:
        pytest.fail('%s: %r is not one of its commands (%s)' % (script, argv[:1], sub.group(1)))
    return p.stdout


def test_the_pages_show_the_scripts_commands():
    shown = {argv[1] for _, argv in commands() if argv[0] != './testbed'}
    scripts = {'experiments/%s' % p.name for p in (ROOT / 'experiments').glob('*.py')
               if p.name != '__init__.py'}
    assert scripts - shown == set(), 'no page shows these scripts\' commands'


@pytest.mark.parametrize('page, argv', commands(), ids=lambda x: ' '.join(x) if
                         isinstance(x, list) else str(x))
def test_every_command_shown_parses(page, argv, tmp_path):
    if argv[0] == './testbed':
        usage = (ROOT / 'testbed').read_text()
        assert len(argv) == 1 or re.search(r'^  %s\)' % re.escape(argv[1]), usage, re.M), \
            '%s: ./testbed has no command %r' % (page, argv[1])
        return
    script, args = argv[1], argv[2:]
    helped = help_text(script, args)
    if '--plan' not in helped:          # starts nothing to plan: its flags are its own
        unknown = [a.split('=')[0] for a in args if a.startswith('--')
                   and not re.search(r'^\s+(-\w, )?%s\b' % re.escape(a.split('=')[0]),
                                     helped, re.M)]
        assert not unknown, '%s: %s has no %s' % (page, script, unknown)
        return
    # a folder of the user's: the checkout's scripts, an inventory as the pages name it
    (tmp_path / 'experiments').symlink_to(ROOT / 'experiments')
    (tmp_path / 'machines.yml').write_text((ROOT / 'tests' / 'data' / 'machines.yml').read_text())
    p = subprocess.run([PYTHON, script] + args + ['--plan'], cwd=str(tmp_path),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120)
    assert p.returncode == 0, '%s: %s\n%s' % (page, ' '.join(argv), p.stdout[-2000:])
