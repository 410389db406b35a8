"""Patch time against manifest size: enable and disable must stay linear in the number of lines.

    .venv/bin/python bench/large_manifest.py [--max-mb 5]

A kubeadm manifest is grown to 0.5..5 MB with what real files accumulate (flags, volumes and their
mounts, comment lines); each size is parsed, patched and verified (`patch_pod`) and the time per MB
is printed. Linear time shows as a flat ms/MB column; a quadratic step makes it grow with size.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kauditcfg.config.audit import build_config
from kauditcfg.manifest.patch import patch_pod
from kauditcfg.manifest.pod import load_apiserver_pod

REPO = Path(__file__).resolve().parent.parent
BASE = (REPO / "fixtures/manifests/kubeadm-v1.30.4.yaml").read_text()
FLAGS = {
    "audit-policy-file": "/etc/kubernetes/audit/policy.yaml",
    "audit-log-path": "/var/log/kubernetes/audit/audit.log",
    "audit-log-maxage": "30",
    "audit-log-maxbackup": "10",
    "audit-log-maxsize": "100",
}


def grown(size: int) -> str:
    """BASE with flags, volume/mount pairs and comments added until it is about `size` bytes."""
    unit = 0
    flags: list[str] = []
    mounts: list[str] = []
    volumes: list[str] = []
    length = len(BASE)
    while length < size:
        name = f"extra-{unit:07d}"
        flags.append(f"    - --zz-{name}=/srv/{name}/value  # a comment that a hand edit left behind\n")
        mounts.append(f"    - mountPath: /srv/{name}\n      name: {name}\n      readOnly: true\n")
        volumes.append(
            f"  - hostPath:\n      path: /srv/{name}\n      type: DirectoryOrCreate\n    name: {name}\n"
        )
        length += len(flags[-1]) + len(mounts[-1]) + len(volumes[-1])
        unit += 1
    text = BASE.replace(
        "    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key\n",
        "    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key\n" + "".join(flags),
    )
    text = text.replace("  hostNetwork: true\n", "".join(mounts) + "  hostNetwork: true\n")
    return text.replace("status: {}", "".join(volumes) + "status: {}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-mb", type=float, default=5.0)
    args = parser.parse_args()
    config = build_config(FLAGS, b"policy\n")
    sizes = [0.5, 1.0, 2.0, args.max_mb]
    print(f"{'MB':>6} {'lines':>8} {'load s':>8} {'enable s':>9} {'disable s':>10} {'enable ms/MB':>13}")
    for mb in sizes:
        text = grown(int(mb * 1024 * 1024))
        start = time.perf_counter()
        pod = load_apiserver_pod(text, "big.yaml")
        loaded = time.perf_counter()
        enabled = patch_pod(pod, config)
        patched = time.perf_counter()
        patch_pod(enabled, None)
        done = time.perf_counter()
        size = len(text) / 1024 / 1024
        lines = text.count("\n")
        print(
            f"{size:6.2f} {lines:8d} {loaded - start:8.2f} {patched - loaded:9.2f} {done - patched:10.2f} "
            f"{(patched - loaded) * 1000 / size:13.0f}"
        )


if __name__ == "__main__":
    main()
