"""The engine under every experiment: a plan (what to run), a Run (one boot of the
cluster with a scenario of steps, giving a typed result), the matrix runner (many
runs, one cell each), and the command line every experiment script shares.

  cli.py        flags, the checks before anything starts, the kernel mode, --plan
  results.py    the results folder and summary.json with its one header
  run.py        Plan, Run, RunResult (history + what the steps measured + verdicts)
  steps/        the steps scenarios are made of (waits, faults, traffic, IPVS, load)
  scenarios.py  every scenario: its steps and the checkers that judge it
  matrix.py     cells (layout x fault x setting) x N trials, progress, time left, spreads
  fidelity.py   the machine's speed at calibration and while measuring: degraded runs
  lab.py        the live lab's commands, from the fault registry
"""
