"""Benchmark `kauditcfg policy explain --json` end to end against jq and a bare orjson loop.

    .venv/bin/python bench/run_explain.py [--events 200000]

Each contender is a separate process reading the same file with its output discarded; its wall
time gives events/s and /usr/bin/time -v its peak RSS. Goals (issue 3): explain at least 4x jq's
events/s and at least the bare orjson loop's. Then explain runs on a log whose first line and one
line in the middle are 5 MB events (a RequestResponse list of ConfigMaps), for its peak RSS: a
line of any size is read whole, and only it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
BARE_LOOP = "import orjson,sys\nfor line in open(sys.argv[1],'rb'):\n    orjson.loads(line)\n"


def measure(argv: list[str]) -> tuple[float, int]:
    """Seconds and peak RSS in KiB of one run, stdout discarded."""
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    start = time.perf_counter()
    proc = subprocess.run(
        [*timer, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, cwd=ROOT, text=True
    )
    elapsed = time.perf_counter() - start
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return elapsed, int(match.group(1)) if match else -1


def big_event_log(source: Path, target: Path, megabytes: int, lines: int = 20_000) -> None:
    """`lines` lines of `source` with a `megabytes` MB event first and another in the middle."""
    items = [{"metadata": {"name": f"cm-{i}", "namespace": "kube-system"}, "data": {"k": "v" * 1000}}
             for i in range(megabytes * 1024)]  # fmt: skip
    big = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": "big",
        "stage": "ResponseComplete", "verb": "list", "requestURI": "/api/v1/configmaps?limit=500",
        "user": {"username": "alice", "groups": ["system:authenticated"]},
        "objectRef": {"resource": "configmaps", "apiVersion": "v1"},
        "responseObject": {"kind": "ConfigMapList", "apiVersion": "v1", "items": items},
    }  # fmt: skip
    line = json.dumps(big).encode() + b"\n"
    with source.open("rb") as src, target.open("wb") as out:
        out.write(line)
        for i, row in enumerate(src):
            if i == lines:
                break
            out.write(row)
            if i == lines // 2:
                out.write(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--profile", default="cks")
    parser.add_argument("--runs", type=int, default=3, help="best of N")
    parser.add_argument("--big-event-mb", type=int, default=5, help="size of the big events (0: skip)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    log = OUT / f"audit-{args.events}.log"
    policy = OUT / f"policy-{args.profile}.yaml"
    python = sys.executable
    if not log.exists():
        subprocess.run(
            [python, str(HERE / "gen_audit_log.py"), str(log), "--events", str(args.events)], check=True
        )
    policy.write_text(
        subprocess.run(
            [python, "-m", "kauditcfg", "policy", "render", "--profile", args.profile],
            check=True, capture_output=True, text=True, cwd=ROOT,
        ).stdout
    )  # fmt: skip
    contenders = {
        "kauditcfg explain --json": [python, "-m", "kauditcfg", "policy", "explain", "--json",
                                     "--policy", str(policy), str(log)],
        "bare orjson loop": [python, "-c", BARE_LOOP, str(log)],
    }  # fmt: skip
    if shutil.which("jq"):
        contenders["jq -c 'select(.verb==\"delete\")'"] = ["jq", "-c", 'select(.verb=="delete")', str(log)]
    size = log.stat().st_size
    print(f"{log.name}: {args.events} events, {size / 1e6:.0f} MB, {size / args.events:.0f} bytes/event")
    rates: dict[str, float] = {}
    for name, argv in contenders.items():
        best = min((measure(argv) for _ in range(args.runs)), key=lambda r: r[0])
        rates[name] = args.events / best[0]
        print(
            f"{name:<36} {rates[name]:>10,.0f} events/s  {best[0]:6.2f} s  peak RSS {best[1] / 1024:6.1f} MiB"
        )
    explain = rates["kauditcfg explain --json"]
    for name, rate in rates.items():
        if name != "kauditcfg explain --json":
            print(f"explain / {name}: {explain / rate:.2f}x")
    if args.big_event_mb:
        big = OUT / f"audit-big-event-{args.big_event_mb}mb.log"
        if not big.exists():
            big_event_log(log, big, args.big_event_mb)
        argv = [python, "-m", "kauditcfg", "policy", "explain", "--json", "--policy", str(policy), str(big)]
        seconds, rss = min((measure(argv) for _ in range(args.runs)), key=lambda r: r[0])
        print(
            f"{big.name} ({big.stat().st_size / 1e6:.0f} MB, two {args.big_event_mb} MB events): "
            f"explain --json {seconds:.2f} s, peak RSS {rss / 1024:.1f} MiB"
        )


if __name__ == "__main__":
    main()
