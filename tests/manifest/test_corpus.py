"""enable / diff / disable / rollback over the 20 real-world manifests of ../shared/corpus.

The corpus is third-party data kept beside the project, never copied into it: without it (a plain
clone) these tests skip and say why.
"""

from __future__ import annotations

import difflib
import posixpath
import shutil
from pathlib import Path

import kubernetes_validate
import pytest
from typer.testing import CliRunner

from kauditcfg.cli import app
from kauditcfg.manifest.pod import ApiServerPod, load_apiserver_pod
from kauditcfg.yamltext import parse_documents
from tests.helpers import CORPUS, MANIFEST, corpus_files, tree_snapshot

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not present at {CORPUS} (plain clone)")

NOT_A_POD = {"nonkubeadm-bootkube-daemonset-v1.9.2-timjones.yaml"}
CIS_FLAGS = {
    "audit-policy-file": "/etc/kubernetes/audit/policy.yaml",
    "audit-log-path": "/var/log/kubernetes/audit/audit.log",
    "audit-log-maxage": "30",
    "audit-log-maxbackup": "10",
    "audit-log-maxsize": "100",
}
runner = CliRunner()


def _expected_flags(before: ApiServerPod) -> dict[str, str]:
    out = dict(CIS_FLAGS)
    for name in ("audit-policy-file", "audit-log-path"):
        value = before.flag(name)
        if value and value.startswith("/"):
            out[name] = value
    for name in ("audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize"):
        value = before.flag(name)
        if value and value.isdigit() and int(value) >= int(CIS_FLAGS[name]):
            out[name] = value
    return out


def pods() -> list[Path]:
    return [p for p in corpus_files() if p.name not in NOT_A_POD]


def _had_audit(text: str) -> bool:
    return "audit" in text.replace("kube-apiserver", "")


def _node(tmp_path: Path, source: Path) -> Path:
    root = tmp_path / "node"
    target = root / MANIFEST.lstrip("/")
    target.parent.mkdir(parents=True)
    shutil.copyfile(source, target)
    return root


def _run(*args: str) -> int:
    result = runner.invoke(app, list(args))
    return result.exit_code


@pytest.mark.parametrize("path", pods(), ids=lambda p: p.name)
def test_corpus_enable_diff_disable_rollback(path: Path, tmp_path: Path) -> None:
    root = _node(tmp_path, path)
    manifest = root / MANIFEST.lstrip("/")
    original = manifest.read_text()
    # kube-apiserver of old versions may not know every flag; the corpus spans 1.10 to 1.34
    version = ["--kubernetes-version", "1.30"]

    assert _run("diff", "--root", str(root), *version) == 1
    assert _run("enable", "--root", str(root), "--profile", "cks", *version) == 0
    enabled = manifest.read_text()
    pod = load_apiserver_pod(enabled, path.name)

    # the audit flags once each, written --flag=value: an existing setup's paths are adopted and
    # its rotation values are "at least" the CIS minimums
    wanted = _expected_flags(load_apiserver_pod(original, path.name))
    for name, value in wanted.items():
        hits = [f for f in pod.flags if f.name == name]
        assert len(hits) == 1 and hits[0].value == value and hits[0].value_index is None, name
    # every path kube-apiserver opens is under a hostPath mount; the log directory is writable
    for path_in_pod, writable in (
        (wanted["audit-policy-file"], False),
        (posixpath.dirname(wanted["audit-log-path"]), True),
    ):
        host, mount = pod.host_path_of(path_in_pod)
        assert host is not None
        assert mount is not None and (not writable or not mount.get("readOnly", False))
    assert (root / pod.host_path_of(wanted["audit-policy-file"])[0].lstrip("/")).is_file()  # type: ignore[union-attr]

    # every comment and every line not about audit is still there, byte for byte
    removed = [
        line[2:]
        for line in difflib.ndiff(original.splitlines(), enabled.splitlines())
        if line.startswith("- ")
    ]
    before_pod = load_apiserver_pod(original, path.name)
    gone = [v for v in before_pod.volumes if v.get("name") not in {w.get("name") for w in pod.volumes}]
    gone_words = [str(v.get("name")) for v in gone] + [
        str((v.get("hostPath") or {}).get("path")) for v in gone
    ]
    structural = ("hostPath:", "type:", "readOnly:")
    for line in removed:
        assert "audit" in line or any(w in line for w in gone_words) or line.strip().startswith(structural), (
            line
        )
    for line in original.splitlines():
        if "#" in line and "audit" not in line:
            assert line in enabled.splitlines()
    assert enabled.endswith("\n") == original.endswith("\n")

    # a second run changes nothing
    snapshot = tree_snapshot(root)
    assert _run("diff", "--root", str(root), *version) == 0
    assert _run("enable", "--root", str(root), *version) == 0
    assert tree_snapshot(root) == snapshot

    # rollback gives back the original manifest, and removes the policy enable created
    assert _run("rollback", "--root", str(root)) == 0
    assert manifest.read_text() == original
    if not _had_audit(original):
        assert not (root / "etc/kubernetes/audit/policy.yaml").exists()
    assert _run("enable", "--root", str(root), *version) == 0
    assert manifest.read_text() == enabled

    # disable gives back the original bytes of a manifest that had no audit settings
    assert _run("disable", "--root", str(root)) == 0
    if not _had_audit(original):
        assert manifest.read_text() == original
    assert not any(f.name.startswith("audit-") for f in load_apiserver_pod(manifest.read_text(), "x").flags)

    # rollback undoes the disable; rollback of the enable's backup is covered elsewhere
    assert _run("rollback", "--root", str(root)) == 0
    assert manifest.read_text() == enabled


@pytest.mark.parametrize("path", pods(), ids=lambda p: p.name)
def test_corpus_output_validates_as_a_pod(path: Path) -> None:
    from kauditcfg.config.audit import build_config
    from kauditcfg.manifest.patch import patch_manifest

    out = patch_manifest(load_apiserver_pod(path.read_text(), path.name), build_config(CIS_FLAGS, b"p"))
    data = parse_documents(out, path.name)[0].data
    if path.name.startswith("hand-edited-broken"):
        # the input itself is invalid (a volume without a name, a `readOlny` typo): so is the output
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(data, "1.30.0", strict=True)
        return
    kubernetes_validate.validate(data, "1.30.0", strict=True)


def test_the_daemonset_is_refused(tmp_path: Path) -> None:
    root = _node(tmp_path, CORPUS / "nonkubeadm-bootkube-daemonset-v1.9.2-timjones.yaml")
    before = tree_snapshot(root)
    assert _run("enable", "--root", str(root)) == 3
    assert tree_snapshot(root) == before
