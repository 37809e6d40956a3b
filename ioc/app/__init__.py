"""The composition root: builds settings, stores and stages, and runs them as supervised services.

Each command's process is a list of services (`_run.py`, `_demo.py`, `_gateway.py`) handed to
one `Supervisor` (`_supervisor.py`); operator commands use the same use cases as the API
(`ioc.alerts`) over the stores of an `OperatorDesk`.
"""

import lazy_loader

# A command loads only the modules it uses: `ioc ingest` starts without the API, the rules or
# the probe (over a second of start-up that a restart after an outage would add to catching up).
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
