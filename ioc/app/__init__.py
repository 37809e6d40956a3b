"""The composition root: builds each process's runtime and stages, and runs them as supervised
services.

A process's shared resources are its `Runtime` (`_runtime.py`: the state database migrated once,
the stores, the telemetry store, the rule set and notification file a reload swaps); each
command's process is a list of services over it (`_run.py`, `_demo.py`, `_gateway.py`) handed to
one `Supervisor` (`_supervisor.py`); a reload reaches every process (`_reloading.py`); operator
commands and the API use the same use cases (`ioc.alerts`) over the stores of an `OperatorDesk`.
"""

import lazy_loader

# A command loads only the modules it uses: `ioc ingest` starts without the API, the rules or
# the probe (over a second of start-up that a restart after an outage would add to catching up).
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
