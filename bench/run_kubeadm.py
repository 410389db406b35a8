"""Benchmark the kubeadm commands: process start to exit, and what the lazy client import saves.

    .venv/bin/python bench/run_kubeadm.py [--runs 7]

Each row is the median wall time of separate processes (`kauditcfg kubeadm config ...`, output
discarded). The last row is the cost of importing the official kubernetes client, which only the
cluster commands (`kubeadm sync`, `verify`, `--wait`) pay.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "kubeadm"
CLI = [sys.executable, "-m", "kauditcfg"]


def median_seconds(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    rows = [
        ("kubeadm config (fresh, v1beta4)", [*CLI, "kubeadm", "config"]),
        *(
            (f"kubeadm config --in {path.name}", [*CLI, "kubeadm", "config", "--in", str(path)])
            for path in sorted(FIXTURES.glob("*.yaml"))
        ),
        (
            "import kubernetes.client (cluster commands only)",
            [sys.executable, "-c", "import kubernetes.client"],
        ),
        ("python -c pass (interpreter start)", [sys.executable, "-c", "pass"]),
    ]
    print(f"{'what':<52} {'median ms':>10}   ({runs} runs each)")
    for label, argv in rows:
        print(f"{label:<52} {median_seconds(argv, runs) * 1000:>10.0f}")


if __name__ == "__main__":
    main()
