"""What a run's data mean, computed from the data alone (no cluster): pure functions,
unit-tested on captured and hand-made histories.

  timeline     every fault decomposed (noticed, owner change, table complete, service
               back), the paper's failover, failback and real-server removal
  invariants   who owns the VIP over time: two owners, none, false takeovers, ARP flips
  figures      the paper's ipvsadm figures 5-14: what each must show, and the check
  scheduling   the maths of rr, wrr, lc and wlc, and the checks of what the kernel did
  load         the load lab's goals and per-cell results
  checks       the checkers a scenario names: a run's verdict
  report       the console reports, from a summary.json
"""
