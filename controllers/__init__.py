"""OpenFlow controller apps (os-ken / Ryu), one app per module."""
# What an app logs once its flows are in, so the testbed can wait for it.
READY_MARK = 'hub flood flow installed on datapath'
