"""Wall time of `kauditcfg diff` with the webhook backend (kubeconfig + TLS checks) against without.

    .venv/bin/python bench/webhook_walltime.py [--runs N]

The webhook adds: rendering the kubeconfig, and reading the CA and client pair with
`cryptography` (imported only then). Certificates are made here with trustme (a dev dependency).
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

import trustme

REPO = Path(__file__).resolve().parent.parent
MANIFEST = "etc/kubernetes/manifests/kube-apiserver.yaml"
PKI = "etc/kubernetes/pki/audit-webhook"


def timed(cmd: list[str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True)
        samples.append(time.perf_counter() - start)
        if proc.returncode != 1:  # diff: 1 = changes pending
            raise SystemExit(f"{cmd} exited {proc.returncode}: {proc.stderr.decode()}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    ca = trustme.CA()
    client = ca.issue_cert("kube-apiserver-audit")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / MANIFEST).parent.mkdir(parents=True)
        shutil.copyfile(REPO / "examples" / "kube-apiserver.yaml", root / MANIFEST)
        (root / PKI).mkdir(parents=True)
        (root / PKI / "ca.crt").write_bytes(ca.cert_pem.bytes())
        (root / PKI / "client.crt").write_bytes(client.cert_chain_pems[0].bytes())
        (root / PKI / "client.key").write_bytes(client.private_key_pem.bytes())
        plain = [sys.executable, "-m", "kauditcfg", "diff", "--root", str(root), "--profile", "cks"]
        webhook = [
            *plain,
            "--webhook-url", "https://collector.example:8443/audit",
            "--webhook-ca", f"/{PKI}/ca.crt",
            "--webhook-client-cert", f"/{PKI}/client.crt",
            "--webhook-client-key", f"/{PKI}/client.key",
        ]  # fmt: skip
        timed(webhook, 2)  # warm the page cache and .pyc files
        with_hook: list[float] = []
        without: list[float] = []
        for _ in range(args.runs):  # interleaved, so a busy moment of the machine hits both alike
            with_hook += timed(webhook, 1)
            without += timed(plain, 1)
    a, b = statistics.median(with_hook), statistics.median(without)
    print(f"kauditcfg diff --profile cks + webhook (mTLS): median {a * 1000:.1f} ms over {args.runs} runs")
    print(f"kauditcfg diff --profile cks:                  median {b * 1000:.1f} ms")
    print(f"webhook cost: {(a - b) * 1000:+.1f} ms (whole processes: noisy on a shared machine)")
    # The parts, in-process: importing cryptography (paid only with a webhook) and one judgement.
    probe = "import time; t = time.perf_counter(); import cryptography.x509; print(time.perf_counter() - t)"
    imports = [float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout)
               for _ in range(args.runs)]  # fmt: skip
    from kauditcfg.webhook.tls import Material, judge_material

    materials = [
        Material("certificate-authority", "ca.crt", ca.cert_pem.bytes()),
        Material("client-certificate", "client.crt", client.cert_chain_pems[0].bytes()),
        Material("client-key", "client.key", client.private_key_pem.bytes(), 0o600),
    ]
    start = time.perf_counter()
    for _ in range(100):
        judge_material(materials)
    judged = (time.perf_counter() - start) / 100
    print(f"import cryptography.x509: median {statistics.median(imports) * 1000:.1f} ms")
    print(f"judging CA + client pair: {judged * 1000:.2f} ms")


if __name__ == "__main__":
    main()
