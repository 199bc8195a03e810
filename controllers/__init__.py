"""OpenFlow controller apps (os-ken / Ryu), one app per module."""
# What an app logs once its flows are in, so the testbed can wait for it.
READY_MARK = 'hub flood flow installed on datapath'
# The cookie of the hub's flows that drop the VIP's announcements (--vip-announce lost),
# by which the testbed finds them in the switch.
MUTE_COOKIE = 0x7e58
