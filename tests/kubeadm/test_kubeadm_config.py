"""`kauditcfg kubeadm config`: a ClusterConfiguration (v1beta3 map / v1beta4 list), and `--in` merges
into real-shaped kubeadm config files with every other byte kept."""

from __future__ import annotations

import difflib
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from kauditcfg.cli import app
from kauditcfg.config.build import config_for_version
from kauditcfg.config.inputs import Inputs
from kauditcfg.config.options import EnableOptions
from kauditcfg.versions import NEWEST
from tests.helpers import tree_snapshot

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kubeadm"
CONFIGS = [
    "init-v1beta3-v1.27.yaml",
    "init-v1beta4-v1.31.yaml",
    "configmap-v1beta3-v1.29.yaml",
    "configmap-v1beta4-v1.31.yaml",
]
runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def docs(text: str) -> list[Any]:
    return [d for d in YAML(typ="safe", pure=True).load_all(text) if d is not None]


def cluster_doc(text: str) -> dict[str, Any]:
    return next(d for d in docs(text) if d.get("kind") == "ClusterConfiguration")


def args_of(api_server: dict[str, Any]) -> dict[str, str]:
    args = api_server.get("extraArgs") or {}
    if isinstance(args, dict):
        return args
    names = [a["name"] for a in args]
    assert len(names) == len(set(names)), f"duplicate extraArgs: {names}"
    return {a["name"]: a["value"] for a in args}


def segments(text: str) -> list[str]:
    return text.split("\n---\n")


def enable_flags(opts: EnableOptions) -> dict[str, str]:
    """The flags `enable` builds for these options (the same function builds both)."""
    return config_for_version(opts, NEWEST, Inputs()).flags


ENABLE_FLAGS = enable_flags(EnableOptions())
ENABLE_VOLUMES = [
    {"name": m.name, "hostPath": m.path, "mountPath": m.path, "readOnly": m.read_only, "pathType": m.type}
    for m in config_for_version(EnableOptions(), NEWEST, Inputs()).mounts
]


@pytest.mark.parametrize("api", ["v1beta3", "v1beta4"])
def test_fresh_cluster_configuration_carries_enables_settings(api: str) -> None:
    code, out, err = cli("kubeadm", "config", "--api-version", api)
    assert code == 0, err
    (doc,) = docs(out)
    assert doc["apiVersion"] == f"kubeadm.k8s.io/{api}" and doc["kind"] == "ClusterConfiguration"
    extra = doc["apiServer"]["extraArgs"]
    assert isinstance(extra, dict if api == "v1beta3" else list)
    assert args_of(doc["apiServer"]) == ENABLE_FLAGS
    assert all(isinstance(v, str) for v in args_of(doc["apiServer"]).values())  # "30", not 30
    assert doc["apiServer"]["extraVolumes"] == ENABLE_VOLUMES
    assert out.startswith("# kube-apiserver audit logging, written by kauditcfg")


@pytest.mark.parametrize(("version", "api"), [("1.29", "v1beta3"), ("1.31", "v1beta4"), ("1.36", "v1beta4")])
def test_api_version_follows_the_kubernetes_version(version: str, api: str) -> None:
    code, out, _ = cli("kubeadm", "config", "--kubernetes-version", version)
    assert code == 0 and docs(out)[0]["apiVersion"] == f"kubeadm.k8s.io/{api}"


def test_options_reach_the_config_as_they_reach_enable() -> None:
    code, out, _ = cli(
        "kubeadm",
        "config",
        "--log-path",
        "/var/log/apiserver/audit.log",
        "--log-maxage",
        "90",
        "--log-format",
        "json",
        "--api-version",
        "v1beta3",
    )
    assert code == 0
    api = docs(out)[0]["apiServer"]
    opts = EnableOptions(log_path="/var/log/apiserver/audit.log", log_maxage=90, log_format="json")
    assert args_of(api) == enable_flags(opts)
    assert {v["hostPath"] for v in api["extraVolumes"]} == {"/etc/kubernetes/audit", "/var/log/apiserver"}


@pytest.mark.parametrize("name", CONFIGS)
def test_in_merges_and_keeps_everything_else(name: str) -> None:
    path = FIXTURES / name
    original = path.read_text()
    code, merged, err = cli("kubeadm", "config", "--in", str(path))
    assert code == 0, err
    before, after = segments(original), segments(merged)
    assert len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        if "kind: ClusterConfiguration" not in old:
            assert new == old  # other documents byte for byte
    # lines were only added (apiServer: {} expands into a block)
    removed = [x for x in difflib.ndiff(original.splitlines(), merged.splitlines()) if x.startswith("- ")]
    assert removed in ([], ["- apiServer: {}"])
    old_doc, new_doc = cluster_doc(original), cluster_doc(merged)
    old_api, new_api = old_doc.get("apiServer") or {}, new_doc["apiServer"]
    assert args_of(new_api) == {**args_of(old_api), **ENABLE_FLAGS}
    assert new_api["extraVolumes"] == (old_api.get("extraVolumes") or []) + ENABLE_VOLUMES
    assert {k: v for k, v in new_doc.items() if k != "apiServer"} == {
        k: v for k, v in old_doc.items() if k != "apiServer"
    }


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.yaml")))
def test_in_is_idempotent(name: str, tmp_path: Path) -> None:
    once = tmp_path / "once.yaml"
    code, out, _ = cli("kubeadm", "config", "--in", str(FIXTURES / name))
    once.write_text(out)
    code, twice, _ = cli("kubeadm", "config", "--in", str(once))
    assert code == 0 and twice == out


def test_kubespray_audit_setup_is_adopted_not_moved() -> None:
    path = FIXTURES / "kubespray-v1beta3-v1.28.yaml"
    code, out, err = cli("kubeadm", "config", "--in", str(path))
    assert code == 0, err
    assert out == path.read_text()  # its paths, rotation and volumes are already right
    assert "adopted existing log path /var/log/audit/kube-apiserver-audit.log" in err
    assert "adopted existing policy file /etc/kubernetes/audit-policy/apiserver-audit-policy.yaml" in err
    assert "adopted extraVolume 'audit-logs' (/var/log/kubernetes/audit at /var/log/audit)" in err


def test_kubespray_setup_moves_only_when_asked() -> None:
    path = FIXTURES / "kubespray-v1beta3-v1.28.yaml"
    code, out, err = cli(
        "kubeadm", "config", "--in", str(path), "--log-path", "/var/log/kubernetes/audit/audit.log"
    )
    assert code == 0, err
    api = cluster_doc(out)["apiServer"]
    assert args_of(api)["audit-log-path"] == "/var/log/kubernetes/audit/audit.log"
    assert args_of(api)["audit-policy-file"] == "/etc/kubernetes/audit-policy/apiserver-audit-policy.yaml"
    names = [v["name"] for v in api["extraVolumes"]]
    assert names == ["audit-policy", "usr-share-ca-certificates", "audit-log"]
    assert "removed extraVolume 'audit-logs' (it mounted the old audit path)" in err
    assert api["extraVolumes"][-1] == {
        "name": "audit-log",
        "hostPath": "/var/log/kubernetes/audit",
        "mountPath": "/var/log/kubernetes/audit",
        "readOnly": False,
        "pathType": "DirectoryOrCreate",
    }


def test_v1beta4_repeated_flags_collapse_to_one(tmp_path: Path) -> None:
    repeated = '  - name: audit-log-maxage\n    value: "7"\n  - name: audit-log-maxage\n    value: "9"\n'
    text = (FIXTURES / "init-v1beta4-v1.31.yaml").read_text()
    text = text.replace("  - name: profiling\n", repeated + "  - name: profiling\n")
    path = tmp_path / "kubeadm.yaml"
    path.write_text(text)
    code, out, _ = cli("kubeadm", "config", "--in", str(path))
    assert code == 0
    assert out.count("name: audit-log-maxage") == 1
    assert args_of(cluster_doc(out)["apiServer"])["audit-log-maxage"] == "30"


def test_in_without_a_cluster_configuration_appends_one(tmp_path: Path) -> None:
    init_only = segments((FIXTURES / "init-v1beta4-v1.31.yaml").read_text())[0] + "\n"
    path = tmp_path / "init.yaml"
    path.write_text(init_only)
    code, out, err = cli("kubeadm", "config", "--in", str(path))
    assert code == 0
    assert out.startswith(init_only + "---\n")
    assert cluster_doc(out)["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert "added a ClusterConfiguration document" in err


def test_api_version_must_match_the_file() -> None:
    code, out, err = cli(
        "kubeadm", "config", "--in", str(FIXTURES / "init-v1beta4-v1.31.yaml"), "--api-version", "v1beta3"
    )
    assert code == 2 and out == ""
    assert "its ClusterConfiguration is v1beta4, not v1beta3" in err and "kubeadm config migrate" in err


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (
            (
                '    # CIS 1.2.18\n    profiling: "false"\n    authorization-mode: Node,RBAC\n',
                '  - name: profiling\n    value: "false"\n',
            ),
            "apiServer.extraArgs must be a map",
        ),
        (
            (
                "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration",
                "apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration",
            ),
            "v1beta2 is not supported",
        ),
        (
            ("  timeoutForControlPlane: 4m0s\n", "  timeoutForControlPlane: 4m0s\n timeout: [\n"),
            "invalid YAML",
        ),
    ],
)
def test_broken_config_is_refused_in_one_line(tmp_path: Path, replace: tuple[str, str], message: str) -> None:
    text = (FIXTURES / "init-v1beta3-v1.27.yaml").read_text()
    assert replace[0] in text
    path = tmp_path / "etc/kubeadm.yaml"
    path.parent.mkdir()
    path.write_text(text.replace(replace[0], replace[1], 1))
    before = tree_snapshot(tmp_path)
    code, out, err = cli(
        "kubeadm", "config", "--in", "/etc/kubeadm.yaml", "--in-place", "--root", str(tmp_path)
    )
    assert code == 3 and out == ""
    assert message in err and "/etc/kubeadm.yaml: " in err and len(err.strip().splitlines()) == 1
    assert tree_snapshot(tmp_path) == before


def test_in_place_writes_atomically_with_a_backup(tmp_path: Path) -> None:
    root = tmp_path / "node"
    target = root / "etc/kubernetes/kubeadm-config.yaml"
    target.parent.mkdir(parents=True)
    original = (FIXTURES / "init-v1beta3-v1.27.yaml").read_bytes()
    target.write_bytes(original)
    target.chmod(0o640)
    code, out, err = cli(
        "kubeadm",
        "config",
        "--root",
        str(root),
        "--in",
        "/etc/kubernetes/kubeadm-config.yaml",
        "--in-place",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["changed"] is True
    assert result["files"] == [
        {"path": "/etc/kubernetes/kubeadm-config.yaml", "action": "modified", "mode": "0640", "owner": "0:0"}
    ]
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert "audit-policy-file: /etc/kubernetes/audit/policy.yaml" in target.read_text()
    backup = root / result["backup"].lstrip("/") / "files/etc/kubernetes/kubeadm-config.yaml"
    assert backup.read_bytes() == original
    assert sorted(p.name for p in target.parent.iterdir()) == ["kubeadm-config.yaml"]  # no temp file left
    code, out, _ = cli(
        "kubeadm",
        "config",
        "--root",
        str(root),
        "--in",
        "/etc/kubernetes/kubeadm-config.yaml",
        "--in-place",
        "--json",
    )
    assert code == 0 and json.loads(out)["changed"] is False


def test_in_place_needs_in() -> None:
    code, _, err = cli("kubeadm", "config", "--in-place")
    assert code == 2 and "--in-place needs --in FILE" in err


def test_kubespray_v1beta4_adopted_with_its_override_collapsed() -> None:
    path = FIXTURES / "kubespray-v1beta4-v1.31.yaml"
    original = path.read_text()
    code, out, err = cli("kubeadm", "config", "--in", str(path))
    assert code == 0, err
    # only the repeated maxage (7 days, below the profile's 30) goes; everything else is kept
    removed = [x for x in difflib.ndiff(original.splitlines(), out.splitlines()) if x[:2] in ("- ", "+ ")]
    assert removed == ["-   - name: audit-log-maxage", '-     value: "7"']
    args = args_of(cluster_doc(out)["apiServer"])
    assert args["audit-log-maxsize"] == "200" and args["audit-log-maxage"] == "30"
    assert "kept --audit-log-maxsize=200 (at least the profile's 100)" in err
    assert "removed a repeated extraArgs audit-log-maxage=7 (kube-apiserver used the last one)" in err


V1BETA3_HEAD = "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\napiServer:\n"


@pytest.mark.parametrize(
    ("api_server", "message"),
    [
        (
            "  extraVolumes:\n  - name: varlog\n    hostPath: /srv/log\n    mountPath: /var/log\n",
            "extraVolume 'varlog' at /var/log covers /var/log/kubernetes/audit but mounts host path /srv/log",
        ),
        (
            "  extraVolumes:\n  - name: varlog\n    hostPath: /var/log\n    mountPath: /var/log\n"
            "    readOnly: true\n",
            "extraVolume 'varlog' mounts /var/log read-only, but kube-apiserver must write the audit log",
        ),
    ],
)
def test_a_volume_in_the_way_is_refused(tmp_path: Path, api_server: str, message: str) -> None:
    path = tmp_path / "kubeadm.yaml"
    path.write_text(V1BETA3_HEAD + api_server)
    code, out, err = cli("kubeadm", "config", "--in", str(path))
    assert code == 4 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_our_volume_moves_with_an_explicit_path_and_keeps_its_name(tmp_path: Path) -> None:
    path = tmp_path / "kubeadm.yaml"
    path.write_text(
        V1BETA3_HEAD + "  extraArgs:\n    audit-log-path: /var/log/old/audit.log\n  extraVolumes:\n"
        "  - name: audit-log\n    hostPath: /var/log/old\n    mountPath: /var/log/old\n    readOnly: false\n"
        "  - name: data\n    hostPath: /srv/data\n    mountPath: /srv/data\n"
    )
    code, out, err = cli("kubeadm", "config", "--in", str(path), "--log-path", "/var/log/new/audit.log")
    assert code == 0, err
    api = cluster_doc(out)["apiServer"]
    by_name = {v["name"]: v for v in api["extraVolumes"]}
    assert sorted(by_name) == ["audit-log", "audit-policy", "data"]
    assert by_name["audit-log"]["hostPath"] == "/var/log/new" and by_name["data"]["hostPath"] == "/srv/data"
    assert "removed extraVolume 'audit-log' (it mounted the old audit path)" in err


def test_crlf_file_stays_crlf(tmp_path: Path) -> None:
    path = tmp_path / "kubeadm.yaml"
    path.write_bytes((FIXTURES / "init-v1beta3-v1.27.yaml").read_bytes().replace(b"\n", b"\r\n"))
    root = tmp_path
    code, _, err = cli("kubeadm", "config", "--root", str(root), "--in", "/kubeadm.yaml", "--in-place")
    assert code == 0, err
    data = path.read_bytes()
    assert b"\r\n    audit-log-maxage: \"30\"\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")
