"""The manifest patcher: exact bytes out, comments kept, idempotent, reversible."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import kubernetes_validate
import pytest

from kauditcfg.config.audit import AuditConfig, build_config
from kauditcfg.errors import InvalidInput, PreflightRefused
from kauditcfg.manifest.patch import patch_manifest
from kauditcfg.manifest.pod import load_apiserver_pod
from kauditcfg.yamltext import parse_documents
from tests.helpers import FIXTURES, GOLDEN, fixture_files

FLAGS = {
    "audit-policy-file": "/etc/kubernetes/audit/policy.yaml",
    "audit-log-path": "/var/log/kubernetes/audit/audit.log",
    "audit-log-maxage": "30",
    "audit-log-maxbackup": "10",
    "audit-log-maxsize": "100",
}
CONFIG = build_config(FLAGS, b"golden-policy\n")
# Fixtures that carry audit settings before we start: disable cannot give their bytes back.
PRECONFIGURED = {"hand-half-audit-v1.27.8.yaml", "hand-audit-full-v1.25.16.yaml"} | {
    p.name for p in fixture_files() if p.name.startswith("adopt-") and "commented" not in p.name
}


def enable_text(text: str, config: AuditConfig = CONFIG, source: str = "kube-apiserver.yaml") -> str:
    return patch_manifest(load_apiserver_pod(text, source), config)


def disable_text(text: str) -> str:
    return patch_manifest(load_apiserver_pod(text, "kube-apiserver.yaml"), None)


def added_and_removed(before: str, after: str) -> tuple[list[str], list[str]]:
    added, removed = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("+ "):
            added.append(line[2:])
        elif line.startswith("- "):
            removed.append(line[2:])
    return added, removed


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_enable_matches_golden_bytes(path: Path) -> None:
    out = enable_text(path.read_text())
    golden = GOLDEN / path.name
    if os.environ.get("KAUDITCFG_REGEN_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(out)
    assert out == golden.read_text(), f"enable output differs from {golden}"


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_enabled_manifest_validates_as_a_pod(path: Path) -> None:
    data = parse_documents(enable_text(path.read_text()), path.name)[0].data
    kubernetes_validate.validate(data, "1.30.0", strict=True)


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_second_enable_changes_nothing(path: Path) -> None:
    once = enable_text(path.read_text())
    assert enable_text(once) == once


@pytest.mark.parametrize(
    "path", [p for p in fixture_files() if p.name not in PRECONFIGURED], ids=lambda p: p.name
)
def test_disable_after_enable_gives_back_the_original_bytes(path: Path) -> None:
    original = path.read_text()
    assert disable_text(enable_text(original)) == original


@pytest.mark.parametrize(
    "path", [p for p in fixture_files() if p.name not in PRECONFIGURED], ids=lambda p: p.name
)
def test_enable_only_adds_audit_lines(path: Path) -> None:
    original = path.read_text()
    added, removed = added_and_removed(original, enable_text(original))
    assert removed == []
    audit_words = ("audit", "annotations:", "hostPath:", "DirectoryOrCreate", "readOnly: true")
    assert all(any(w in line for w in audit_words) for line in added), added


def test_flags_go_to_their_sorted_place_in_a_kubeadm_list() -> None:
    out = enable_text((FIXTURES / "kubeadm-v1.30.4.yaml").read_text())
    pod = load_apiserver_pod(out, "x")
    names = [f.name for f in pod.flags]
    assert names == sorted(names)
    assert names.count("audit-log-path") == 1


def test_sorted_run_gets_new_flags_at_their_place_before_appended_flags() -> None:
    text = (FIXTURES / "kops-v1.27.3-args.yaml").read_text()
    pod = load_apiserver_pod(enable_text(text), "x")
    assert pod.flags_key == "args"
    names = [f.name for f in pod.flags]
    # kops' sorted run, then the three flags appended by hand stay last
    assert names[-3:] == ["profiling", "request-timeout", "goaway-chance"]
    at = names.index("apiserver-count") + 1
    assert names[at : at + len(FLAGS)] == sorted(FLAGS)
    assert pod.container["command"] == ["/usr/local/bin/kube-apiserver"]


def test_an_unsorted_list_gets_new_flags_after_the_last_flag() -> None:
    text = (FIXTURES / "hyperkube-v1.12.10.yaml").read_text()
    pod = load_apiserver_pod(enable_text(text), "x")
    tail = [f.name for f in pod.flags][-len(FLAGS) :]
    assert tail == list(FLAGS)


def test_two_item_flag_is_rewritten_in_place_as_flag_equals_value() -> None:
    text = (FIXTURES / "hand-half-audit-v1.27.8.yaml").read_text()
    assert "- --audit-log-maxage\n" in text
    out = enable_text(text)
    pod = load_apiserver_pod(out, "x")
    assert [f.name for f in pod.flags].count("audit-log-maxage") == 1
    assert pod.flag("audit-log-maxage") == "30"
    assert "- --audit-log-maxage=30\n" in out
    assert '- "7"' not in out


def test_duplicate_audit_flags_collapse_to_one() -> None:
    text = (
        (FIXTURES / "kubeadm-v1.30.4.yaml")
        .read_text()
        .replace(
            "    - --authorization-mode=Node,RBAC\n",
            "    - --audit-log-maxage=5\n    - --authorization-mode=Node,RBAC\n    - --audit-log-maxage=6\n",
        )
    )
    pod = load_apiserver_pod(enable_text(text), "x")
    assert [f.name for f in pod.flags].count("audit-log-maxage") == 1
    assert pod.flag("audit-log-maxage") == "30"


def test_missing_final_newline_stays_missing() -> None:
    text = (FIXTURES / "kubeadm-v1.19.16.yaml").read_text()
    assert not text.endswith("\n")
    assert not enable_text(text).endswith("\n")


def test_crlf_file_gets_crlf_lines() -> None:
    text = (FIXTURES / "kubeadm-v1.30.4.yaml").read_text().replace("\n", "\r\n")
    out = enable_text(text)
    assert "\n" not in out.replace("\r\n", "")
    assert disable_text(out) == text


def test_indented_sequences_are_written_indented() -> None:
    out = enable_text((FIXTURES / "kubeadm-v1.28.9-indented.yaml").read_text())
    assert "        - --audit-log-maxage=30\n" in out
    assert "        - mountPath: /var/log/kubernetes/audit\n" in out


def test_comments_stay_where_they_were() -> None:
    original = (FIXTURES / "kubeadm-v1.29.6-comments.yaml").read_text()
    out = enable_text(original)
    comments = [line for line in original.splitlines() if "#" in line]
    for line in comments:
        assert line in out.splitlines()
    # each comment keeps the line that followed it
    orig_lines, out_lines = original.splitlines(), out.splitlines()
    for i, line in enumerate(orig_lines[:-1]):
        if line.strip().startswith("#"):
            j = out_lines.index(line)
            assert out_lines[j + 1] == orig_lines[i + 1]


def test_aligned_inline_comment_keeps_its_column() -> None:
    text = (
        (FIXTURES / "kubeadm-v1.30.4.yaml")
        .read_text()
        .replace(
            "    - --authorization-mode=Node,RBAC\n",
            "    - --audit-log-maxage=7          # hand-set\n    - --authorization-mode=Node,RBAC\n",
        )
    )
    out = enable_text(text)
    assert "    - --audit-log-maxage=30         # hand-set\n" in out


def test_annotation_is_added_when_metadata_has_none() -> None:
    text = (FIXTURES / "hyperkube-v1.12.10.yaml").read_text()
    out = enable_text(text)
    pod = load_apiserver_pod(out, "x")
    assert pod.annotations == {"kauditcfg.io/config-hash": CONFIG.config_hash}
    assert disable_text(out) == text


def test_config_change_changes_the_hash_annotation() -> None:
    text = (FIXTURES / "kubeadm-v1.30.4.yaml").read_text()
    first = enable_text(text)
    other = build_config(FLAGS, b"another policy\n")
    second = enable_text(first, other)
    assert first != second
    added, removed = added_and_removed(first, second)
    assert len(added) == len(removed) == 1 and "config-hash" in added[0]


def test_conflicting_mount_is_refused() -> None:
    text = (
        (FIXTURES / "kubeadm-v1.30.4.yaml")
        .read_text()
        .replace(
            "    - mountPath: /etc/ssl/certs\n",
            "    - mountPath: /var/log/kubernetes/audit\n      name: k8s-certs\n"
            "    - mountPath: /etc/ssl/certs\n",
        )
    )
    with pytest.raises(PreflightRefused, match="covers /var/log/kubernetes/audit but mounts host path"):
        enable_text(text)


def test_read_only_mount_over_the_log_dir_is_refused() -> None:
    flags = dict(FLAGS, **{"audit-log-path": "/etc/kubernetes/pki/audit/audit.log"})
    text = (FIXTURES / "kubeadm-v1.30.4.yaml").read_text()
    with pytest.raises(PreflightRefused, match="is readOnly but covers the audit log directory"):
        enable_text(text, build_config(flags, b"p"))


def test_existing_writable_mount_of_a_parent_directory_is_reused() -> None:
    text = (FIXTURES / "kubeadm-v1.30.4.yaml").read_text()
    flags = dict(FLAGS, **{"audit-log-path": "/var/log/kubernetes/audit/x/audit.log"})
    first = enable_text(text)
    out = enable_text(first, build_config(flags, b"golden-policy\n"))
    pod = load_apiserver_pod(out, "x")
    assert [m["mountPath"] for m in pod.mounts].count("/var/log/kubernetes/audit") == 1


def test_log_to_stdout_needs_no_log_mount() -> None:
    flags = {"audit-policy-file": "/etc/kubernetes/audit/policy.yaml", "audit-log-path": "-"}
    pod = load_apiserver_pod(
        enable_text((FIXTURES / "kubeadm-v1.30.4.yaml").read_text(), build_config(flags, b"p")), "x"
    )
    assert "/var/log/kubernetes/audit" not in [m["mountPath"] for m in pod.mounts]


FLOW = """apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  annotations: {}
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.30.1
    args: ["--secure-port=6443", "--audit-log-maxage", "3", --audit-log-format=json]
    volumeMounts: []
  volumes: []"""


def test_flow_style_lists_are_edited_in_flow_style() -> None:
    out = enable_text(FLOW)
    assert (
        '    args: ["--secure-port=6443", "--audit-log-maxage=30", --audit-log-format=json, '
        '"--audit-policy-file=/etc/kubernetes/audit/policy.yaml", '
        '"--audit-log-path=/var/log/kubernetes/audit/audit.log", "--audit-log-maxbackup=10", '
        '"--audit-log-maxsize=100"]\n'
    ) in out
    pod = load_apiserver_pod(out, "x")
    assert pod.flag("audit-log-format") == "json"  # a flag we do not manage is kept
    assert [m["name"] for m in pod.mounts] == ["audit-log", "audit-policy"]
    assert enable_text(out) == out
    back = disable_text(out)
    assert back.endswith('    args: ["--secure-port=6443"]')
    assert not back.endswith("\n")  # the original had no final newline


def test_flow_style_metadata_is_refused_with_a_clear_message() -> None:
    text = FLOW.replace(
        "metadata:\n  name: kube-apiserver\n  annotations: {}\n", "metadata: {name: kube-apiserver}\n"
    )
    with pytest.raises(
        InvalidInput, match=r"metadata is written in flow style .*rewrite it as a block mapping"
    ):
        enable_text(text)


def test_audit_flags_left_in_command_are_not_duplicated_when_flags_live_in_args() -> None:
    text = (FIXTURES / "kops-v1.27.3-args.yaml").read_text()
    stray = "    - /usr/local/bin/kube-apiserver\n    - --audit-log-path=/var/log/old/audit.log\n"
    text = text.replace("    - /usr/local/bin/kube-apiserver\n", stray, 1)
    out = enable_text(text)
    pod = load_apiserver_pod(out, "x")
    assert pod.container["command"] == ["/usr/local/bin/kube-apiserver"]
    assert pod.flag("audit-log-path") == "/var/log/kubernetes/audit/audit.log"
    assert "--audit-log-path" not in disable_text(out)
