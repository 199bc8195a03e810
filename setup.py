"""ha-lvs-testbed: the Linux-HA + LVS cluster of Dantas et al. in Mininet, with real
kernel IPVS, heartbeat, ldirectord and keepalived, on a native or a UML kernel.

The daemons, Mininet, Open vSwitch and os-ken are Debian packages: install them with
`./testbed setup` (apt-get); this file describes the Python side.
"""
from setuptools import setup

setup(
    name='ha-lvs-testbed',
    version='0.1.0',
    description='Mininet testbed for high-availability LVS clusters (heartbeat, '
                'ldirectord, keepalived, kernel IPVS), reproducing Dantas et al.',
    long_description=open('README.md').read() if __import__('os').path.exists('README.md') else '',
    long_description_content_type='text/markdown',
    license='MIT',
    python_requires='>=3.9',
    packages=['topo', 'controllers', 'experiments'],
    # mininet and os-ken come from Debian (python3-mininet is not on PyPI with mnexec).
    install_requires=['requests', 'pandas', 'matplotlib'],
    extras_require={'test': ['pytest']},
    entry_points={'console_scripts': [
        'ha-testbed-cluster=experiments.cluster:main',
    ]},
    classifiers=['Programming Language :: Python :: 3', 'Operating System :: POSIX :: Linux',
                 'Topic :: System :: Networking', 'Topic :: System :: Clustering'],
)
