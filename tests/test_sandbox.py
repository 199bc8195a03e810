from topo import sandbox


def test_init_script_keeps_the_host_untouched_and_powers_off():
    script = sandbox._init_script(['/usr/bin/python3', 'x.py', '--a b'], '/work/x',
                                  '/var/tmp/w/status', {'K': 'v w'})
    for d in ('/run', '/var/log', '/tmp', '/etc/openvswitch', '/var/lib/openvswitch'):
        assert '[ -d %s ] && mount -t tmpfs tmpfs %s' % (d, d) in script
    assert "'--a b'" in script and "export K='v w'" in script
    assert 'echo $? > /var/tmp/w/status' in script
    assert script.rstrip().splitlines()[-2] == 'echo o > /proc/sysrq-trigger'
    assert 'modprobe -d /run/hatestbed/mod' in script
    assert sandbox.INNER_MARK in script


def test_private_dirs_are_detected():
    assert sandbox.private_inside('/tmp/results') == '/tmp'
    assert sandbox.private_inside('/run') == '/run'
    assert sandbox.private_inside('/var/tmp/results') is None
    assert sandbox.private_inside('/runner/x') is None


def test_unknown_mode_is_refused():
    import pytest
    with pytest.raises(sandbox.SandboxError, match='unknown --sandbox'):
        sandbox.choose_mode('docker')
