"""The steps a scenario is made of: small objects called with the Run, one after the
other, on one boot of the cluster. Each writes what it measures into the run's
typed result (run.measured, run.history) and says a failed expectation with
run.fail(); a new step is a class in one of these modules.

  cluster     wait for a state of the HA cluster (serving, standing by, taken over,
              recovered), hold it
  faults      inject and clear the faults of topo/faults/, replay a random schedule
              of them, what a fault left behind
  traffic     the client's bursts, the prober, sustained load, the hub's proof
  ipvs        the paper's figures, snapshots, connection entries, a static service
  h2load      the load lab's h2load levels (load.csv)
  schedulers  rr, wrr, lc, wlc on short and long-lived connections
  maintenance drain a real server, upgrade it, the versions served, resize the service
"""
from topo.engine.steps.cluster import (Hold, Say, Settle, WaitPrimaryUp, WaitRecovered,  # noqa
                                       WaitOwnNextHop, WaitRemoved, WaitServing, WaitSettled,
                                       WaitStandingBy, WaitTakeover)
from topo.engine.steps.faults import Clear, Inject, LeftBehind, ReplaySchedule  # noqa: F401
from topo.engine.steps.maintenance import (ChangeServer, CheckVersions, Drain,  # noqa: F401
                                           Resize, TakeOut, UndoChange, Upgrade)
from topo.engine.steps.ipvs import (CountConnections, Figure, ReadMulticast,  # noqa
                                    Snapshot, StaticCheck, StaticService)
from topo.engine.steps.traffic import (Burst, StartLoad, StartProber, StopLoad,  # noqa: F401
                                       VerifyHub)
