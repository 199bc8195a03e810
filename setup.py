"""ha-lvs-testbed: the Linux-HA + LVS cluster of Dantas et al. in Mininet, with real
kernel IPVS, heartbeat, ldirectord and keepalived, on a native or a UML kernel.

The daemons, nginx, h2load, Mininet, Open vSwitch and os-ken are Debian packages: install them with
`./testbed setup` (apt-get); this file describes the Python side.
"""
import os
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
# one console script per experiment script (and the plot script): ha-testbed-NAME
SCRIPTS = sorted(f.stem for f in (HERE / 'experiments').glob('*.py') if f.stem != '__init__')

setup(
    name='ha-lvs-testbed',
    version='0.3.0',
    description='Mininet testbed for high-availability LVS clusters (heartbeat, '
                'ldirectord, keepalived, kernel IPVS), reproducing Dantas et al.',
    long_description=open('README.md').read() if os.path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    license='MIT',
    python_requires='>=3.9',
    packages=find_packages(include=['topo', 'topo.*', 'controllers', 'experiments', 'deploy']),
    # the daemons' config templates (nginx's too) and heartbeat's lean resource scripts
    package_data={'topo.ha': ['templates/*', 'templates/resource.d/*'],
                  'topo.network': ['templates/*'],
                  # the deployment's playbook, its roles and the node script's template
                  'deploy': ['site.yml', 'roles/*/*/*.yml', 'templates/*']},
    # mininet and os-ken come from Debian (python3-mininet is not on PyPI with mnexec).
    install_requires=['requests', 'pandas', 'matplotlib'],
    extras_require={'test': ['pytest']},
    entry_points={'console_scripts': ['ha-testbed-%s=experiments.%s:main' % (e, e)
                                      for e in SCRIPTS]},
    classifiers=['Programming Language :: Python :: 3', 'Operating System :: POSIX :: Linux',
                 'Topic :: System :: Networking', 'Topic :: System :: Clustering'],
)
