"""Wall time of `kauditcfg diff` on a kubeadm manifest against the bare import of its libraries.

    .venv/bin/python bench/diff_walltime.py [--runs N]

What a user waits for is process start + imports + parse + patch + verify + diff; the baseline
`python -c "import ruamel.yaml, typer, jinja2"` is the floor any tool built on them pays.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MANIFEST = "etc/kubernetes/manifests/kube-apiserver.yaml"


def timed(cmd: list[str], runs: int, ok: tuple[int, ...]) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True)
        samples.append(time.perf_counter() - start)
        if proc.returncode not in ok:
            raise SystemExit(f"{cmd} exited {proc.returncode}: {proc.stderr.decode()}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / MANIFEST).parent.mkdir(parents=True)
        shutil.copyfile(REPO / "examples" / "kube-apiserver.yaml", root / MANIFEST)
        kauditcfg = [sys.executable, "-m", "kauditcfg", "diff", "--root", str(root), "--profile", "cks"]
        baseline = [sys.executable, "-c", "import ruamel.yaml, typer, jinja2"]
        timed(kauditcfg, 2, (1,))  # warm the page cache and .pyc files
        diff = timed(kauditcfg, args.runs, (1,))
        base = timed(baseline, args.runs, (0,))
    med_diff, med_base = statistics.median(diff), statistics.median(base)
    print(f"kauditcfg diff --profile cks: median {med_diff * 1000:.1f} ms over {args.runs} runs")
    print(f"import ruamel.yaml, typer, jinja2: median {med_base * 1000:.1f} ms")
    print(f"ratio {med_diff / med_base:.2f}x, kauditcfg's own work {1000 * (med_diff - med_base):.1f} ms")


if __name__ == "__main__":
    main()
