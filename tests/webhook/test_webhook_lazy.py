"""`cryptography` loads only when TLS material is judged: --help and a diff without a webhook skip it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MANIFEST = "etc/kubernetes/manifests/kube-apiserver.yaml"

PROBE = """import sys
from kauditcfg.cli import app
for argv in (['--help'], ['enable', '--help'], ['diff', '--root', sys.argv[1]]):
    try:
        app(argv)
    except SystemExit:
        pass
print('cryptography' in sys.modules)
"""


def test_cryptography_is_not_imported_without_a_webhook(tmp_path: Path) -> None:
    manifest = tmp_path / MANIFEST
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes((REPO / "fixtures/manifests/kubeadm-v1.30.4.yaml").read_bytes())
    probe = [sys.executable, "-c", PROBE, str(tmp_path)]
    out = subprocess.run(probe, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
