"""Only the commands that talk to a cluster import the kubernetes client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import sys
from kauditcfg.cli import app
root = sys.argv[1]
for argv in (
    ["kubeadm", "--help"],
    ["kubeadm", "config", "--api-version", "v1beta3"],
    ["kubeadm", "patches", "--root", root, "--dir", "/etc/kubernetes/patches"],
    ["enable", "--root", root, "--dry-run"],
    ["verify", "--help"],
):
    try:
        app(argv)
    except SystemExit as exc:
        # 4: a CI machine short of disk makes preflight refuse; the imports are what is tested
        assert exc.code in (0, None, 4), (argv, exc.code)
assert "kubernetes" not in sys.modules, "kubernetes was imported"
try:
    app(["kubeadm", "sync", "--root", root])
except SystemExit as exc:
    assert exc.code == 2  # no admin.conf under the root
print("ok")
"""


def test_local_commands_never_import_the_kubernetes_client(tmp_path: Path) -> None:
    manifest = tmp_path / "etc/kubernetes/manifests/kube-apiserver.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes((REPO / "fixtures/manifests/kubeadm-v1.30.4.yaml").read_bytes())
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
