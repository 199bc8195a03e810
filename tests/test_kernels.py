"""Kernel modes as classes: the registry, the choice, the UML init script, the lock
that keeps a second cluster off a kernel that runs one."""
import os
import subprocess

import pytest

from topo import kernels
from topo.kernels import uml


def test_modes_are_registered_with_their_own_flags():
    modes = kernels.load()
    assert {'native', 'uml'} <= set(modes)
    assert kernels.choices()[0] == 'auto'
    import argparse
    p = argparse.ArgumentParser()
    kernels.add_arguments(p)
    args = p.parse_args(['--sandbox', 'uml', '--uml-mem', '512'])
    assert (args.sandbox, args.uml_mem) == ('uml', 512)


def test_the_label_is_the_mode_this_process_runs_in():
    assert kernels.kernel_mode() == ('uml' if uml.running_in_uml() else 'native')


def test_unknown_mode_is_refused():
    with pytest.raises(kernels.SandboxError, match='unknown --sandbox'):
        kernels.choose('docker', None)


def test_init_script_keeps_the_host_untouched_and_powers_off():
    script = uml._init_script(['/usr/bin/python3', 'x.py', '--a b'], '/work/x',
                              '/var/tmp/w/status', {'K': 'v w'})
    for d in ('/run', '/var/log', '/tmp', '/etc/openvswitch', '/var/lib/openvswitch'):
        assert '[ -d %s ] && mount -t tmpfs tmpfs %s' % (d, d) in script
    assert "'--a b'" in script and "export K='v w'" in script
    assert 'echo $? > /var/tmp/w/status' in script
    assert script.rstrip().splitlines()[-2] == 'echo o > /proc/sysrq-trigger'
    assert 'modprobe -d /run/hatestbed/mod' in script
    assert uml.INNER_MARK in script


def test_private_dirs_are_detected():
    assert uml.private_inside('/tmp/results') == '/tmp'
    assert uml.private_inside('/run') == '/run'
    assert uml.private_inside('/var/tmp/results') is None
    assert uml.private_inside('/runner/x') is None


def test_a_second_cluster_on_one_kernel_is_refused_naming_the_first(tmp_path):
    first = kernels.Lock(tmp_path / 'lock').acquire()
    try:
        with pytest.raises(kernels.SandboxError) as e:
            kernels.Lock(tmp_path / 'lock').acquire()
        assert 'pid %d' % os.getpid() in str(e.value) and '--sandbox uml' in str(e.value)
    finally:
        first.release()
    kernels.Lock(tmp_path / 'lock').acquire().release()     # free again once released


def test_the_run_id_is_inherited():
    rid = kernels.run_id()
    out = subprocess.run(['sh', '-c', 'echo $%s' % kernels.RUN_ENV], stdout=subprocess.PIPE,
                         universal_newlines=True).stdout.strip()
    assert out == rid and rid.split('.')[0].isdigit()
