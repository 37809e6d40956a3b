"""The chaos soak: two nodes and every fault at once, for ten minutes by default.

tests/support/chaos.py says what it throws and checks. Needs root (node b runs in a network
namespace of its own).
Prints the history as it goes and the figures at the end; a failing run keeps its directory
(the history, every node's log, the broker's and the database's) for replay.

Usage: python bench/chaos.py [--seconds 600] [--seed 1] [--lease 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.chaos import soak  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600, help="how long faults are thrown")
    parser.add_argument("--seed", type=int, default=1, help="the faults' random schedule")
    parser.add_argument("--lease", type=float, default=5.0, help="IOC_LEASE_S")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("needs root: node b runs in a network namespace of its own")
    if args.seconds <= 0 or args.lease <= 0:
        parser.error("--seconds and --lease must be positive")
    root = Path(tempfile.mkdtemp(prefix="ioc-chaos-"))
    if not soak(root, args.seconds, args.seed, args.lease):
        print(f"FAILED: history and logs kept in {root}")
        return 1
    shutil.rmtree(root, ignore_errors=True)
    print("passed: nothing lost, nothing twice")
    return 0


if __name__ == "__main__":
    sys.exit(main())
