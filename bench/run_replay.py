"""Benchmark `kauditcfg policy replay` against `policy explain --json` and a bare orjson loop.

    .venv/bin/python bench/run_replay.py [--events 200000] [--events 2000000] [--runs 3]

The log comes from the tests' generator (tests/policy/loggen.py: heartbeats, leader election,
status patches, a thin human tail; every event captured at RequestResponse with bodies). Each
contender is its own process reading the same file, output discarded; wall time gives events/s and
/usr/bin/time -v the peak RSS. Goals (issue 15): replay at least as fast as explain --json; both
twice the bare single-process orjson loop; replay's memory flat in the log's size (compare the
peak RSS at 200k and 2M events). The .gz row reads the same log gzipped (isal when installed).
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(ROOT))

from tests.policy.loggen import generate  # noqa: E402

BARE_LOOP = "import orjson,sys\nfor line in open(sys.argv[1],'rb'):\n    orjson.loads(line)\n"
NODES = 50
LINES_PER_SECOND = 25.0  # of the generator's 50-node cluster, measured once


def measure(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system, children included) and peak RSS in KiB of one run.

    The CPU figure is the steadier one on a machine shared with other work."""
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    start = time.perf_counter()
    proc = subprocess.run(
        [*timer, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, cwd=ROOT, text=True
    )
    elapsed = time.perf_counter() - start
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr))
    return elapsed, cpu, int(match.group(1)) if match else -1


def make_log(events: int) -> tuple[Path, int]:
    log = OUT / f"replay-{events}.log"
    if not log.exists():
        tmp = log.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            generate(handle, seconds=max(60, round(events / LINES_PER_SECOND)), nodes=NODES)
        tmp.rename(log)
    with log.open("rb") as handle:
        lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
    return log, lines


def make_gz(log: Path) -> Path:
    gz = log.with_suffix(".log.gz")
    if not gz.exists():
        with log.open("rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
    return gz


def bench(events: int, policy: Path, runs: int) -> None:
    log, lines = make_log(events)
    gz = make_gz(log) if events <= 500_000 else None  # the .gz row once is enough
    python = sys.executable
    kaudit = [python, "-m", "kauditcfg", "policy"]
    contenders = {
        "bare orjson loop (1 process)": [python, "-c", BARE_LOOP, str(log)],
        "kauditcfg policy explain --json": [*kaudit, "explain", "--json", "--policy", str(policy), str(log)],
        "kauditcfg policy replay --json": [*kaudit, "replay", "--json", "--policy", str(policy), str(log)],
    }
    if gz is not None:
        contenders["kauditcfg policy replay --json (.gz)"] = [
            *kaudit,
            "replay",
            "--json",
            "--policy",
            str(policy),
            str(gz),
        ]
    size = log.stat().st_size
    print(
        f"\n{log.name}: {lines} events, {size / 1e6:.0f} MB ({size / lines:.0f} B/event)"
        + (f"; {gz.name}: {gz.stat().st_size / 1e6:.0f} MB" if gz else "")
    )
    rates: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for name, argv in contenders.items():
        runs_ = [measure(argv) for _ in range(runs)]
        best = min(runs_, key=lambda r: r[0])
        rates[name] = lines / best[0]
        cpu[name] = min(r[1] for r in runs_)
        print(
            f"{name:<40} {rates[name]:>9,.0f} events/s {best[0]:7.2f} s wall {cpu[name]:7.2f} s CPU "
            f"peak RSS {best[2] / 1024:7.1f} MiB"
        )
    bare = "bare orjson loop (1 process)"
    for name in rates:
        if name.startswith("kauditcfg"):
            wall_x, cpu_x = rates[name] / rates[bare], cpu[bare] / cpu[name]
            print(f"{name} / bare orjson loop: {wall_x:.2f}x wall, {cpu_x:.2f}x CPU")
    replay, explain = "kauditcfg policy replay --json", "kauditcfg policy explain --json"
    print(
        f"replay / explain: {rates[replay] / rates[explain]:.2f}x wall, {cpu[explain] / cpu[replay]:.2f}x CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, action="append", help="log sizes (default 200000)")
    parser.add_argument("--profile", default="cks")
    parser.add_argument("--runs", type=int, default=3, help="best of N")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    policy = OUT / f"policy-{args.profile}.yaml"
    policy.write_text(
        subprocess.run(
            [sys.executable, "-m", "kauditcfg", "policy", "render", "--profile", args.profile],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
    )
    for events in args.events or [200_000]:
        bench(events, policy, args.runs)


if __name__ == "__main__":
    main()
