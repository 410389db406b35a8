"""Cost of `rollback --list` and of pruning on a node that kept many backups.

    .venv/bin/python bench/backups_catalog.py [--backups N] [--runs R]

A node where `--keep-backups 0` was used for years can hold thousands of backup directories;
listing reads every index.json, and the first run with the default keeps the newest 10.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from kauditcfg.config.defaults import BACKUP_DIR
from kauditcfg.hostfs import Host
from kauditcfg.ops.backup import write_backup
from kauditcfg.ops.backup_catalog import list_backups, prune
from kauditcfg.ops.fs import FS
from kauditcfg.ops.plan import MANIFEST, FileChange

REPO = Path(__file__).resolve().parent.parent
MANIFEST_PATH = "/etc/kubernetes/manifests/kube-apiserver.yaml"


def node(root: Path, count: int) -> Host:
    target = root / MANIFEST_PATH.lstrip("/")
    target.parent.mkdir(parents=True)
    shutil.copyfile(REPO / "fixtures/manifests/kubeadm-v1.30.4.yaml", target)
    host = Host(root)
    fs = FS(root, durable=False)
    data = target.read_bytes()
    for i in range(count):
        stamp = f"2025{1 + i // 28 // 24 % 12:02d}{1 + i // 24 % 28:02d}T{i % 24:02d}0000.{i:06d}Z"
        change = FileChange(MANIFEST_PATH, data, b"x", MANIFEST)
        write_backup(fs, host, f"{BACKUP_DIR}/{stamp}", [change], "enable")
    return host


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backups", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    listing, pruning = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            host = node(Path(tmp), args.backups)
            start = time.perf_counter()
            listed = list_backups(host)
            listing.append(time.perf_counter() - start)
            assert len(listed.backups) == args.backups
            start = time.perf_counter()
            pruned = prune(host, FS(host.root, durable=False), keep=10)
            pruning.append(time.perf_counter() - start)
            assert len(pruned.removed) == args.backups - 10 and len(list_backups(host).backups) == 10
    print(f"{args.backups} backups, {args.runs} runs (median)")
    print(f"  list (read every index.json): {statistics.median(listing) * 1000:8.1f} ms")
    print(f"  prune to the newest 10:        {statistics.median(pruning) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
