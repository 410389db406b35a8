"""`kauditcfg kubeadm sync` against the fake API, driven by the official kubernetes client."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from typer.testing import CliRunner

from kauditcfg.cli import app
from tests.cluster.fake_api import FakeCluster

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kubeadm"
runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def _stored(fake: FakeCluster) -> str:
    return str(fake.configmap["data"]["ClusterConfiguration"])


def test_sync_v1beta4_writes_list_form_and_keeps_every_other_field(tmp_path: Path) -> None:
    original = (FIXTURES / "configmap-v1beta4-v1.31.yaml").read_text()
    with FakeCluster(cluster_configuration=original) as fake:
        code, out, err = cli("kubeadm", "sync", "--kubeconfig", str(fake.kubeconfig(tmp_path)))
        assert code == 0, err
        stored = _stored(fake)
    assert "  - name: audit-policy-file\n    value: /etc/kubernetes/audit/policy.yaml\n" in stored
    assert '  - name: audit-log-maxage\n    value: "30"\n' in stored
    assert "    mountPath: /var/log/kubernetes/audit\n    readOnly: false\n" in stored
    # lines were only added (apiServer: {} expands into a block)
    removed = [x for x in difflib.ndiff(original.splitlines(), stored.splitlines()) if x.startswith("- ")]
    assert removed == ["- apiServer: {}"]
    assert "+  - name: audit-log-path\n" in out
    assert "updated ConfigMap kube-system/kubeadm-config" in err
    assert fake.configmap["metadata"]["resourceVersion"] == "1001"
    assert fake.configmap["metadata"]["managedFields"][0]["manager"] == "kubeadm"


def test_sync_v1beta3_map_form_is_idempotent(tmp_path: Path) -> None:
    original = (FIXTURES / "configmap-v1beta3-v1.29.yaml").read_text()
    with FakeCluster(cluster_configuration=original) as fake:
        kubeconfig = str(fake.kubeconfig(tmp_path))
        assert cli("kubeadm", "sync", "--kubeconfig", kubeconfig)[0] == 0
        first = _stored(fake)
        assert '    audit-log-maxbackup: "10"\n' in first
        assert "    authorization-mode: Node,RBAC\n" in first
        code, out, err = cli("kubeadm", "sync", "--kubeconfig", kubeconfig, "--json")
        assert code == 0, err
        result = json.loads(out)
        assert result["changed"] is False and result["diff"] == []
        assert result["api_version"] == "v1beta3"
        assert [m for m, _ in fake.requests].count("PUT") == 1  # the second run wrote nothing
        assert _stored(fake) == first


def test_sync_retries_after_a_conflict(tmp_path: Path) -> None:
    with FakeCluster(cluster_configuration=(FIXTURES / "configmap-v1beta3-v1.29.yaml").read_text()) as fake:
        fake.conflicts = 2
        code, out, err = cli("kubeadm", "sync", "--kubeconfig", str(fake.kubeconfig(tmp_path)), "--json")
        assert code == 0, err
        result = json.loads(out)
        assert result["conflicts"] == 2 and result["applied"] is True
        # the other writer's change survived: kauditcfg re-read before writing again
        assert fake.configmap["metadata"]["labels"] == {"touched-by": "someone-else"}
        assert "audit-policy-file: /etc/kubernetes/audit/policy.yaml" in _stored(fake)
        assert [m for m, _ in fake.requests].count("PUT") == 3


def test_sync_gives_up_after_repeated_conflicts_and_writes_nothing(tmp_path: Path) -> None:
    original = (FIXTURES / "configmap-v1beta3-v1.29.yaml").read_text()
    with FakeCluster(cluster_configuration=original) as fake:
        fake.conflicts = 50
        code, _, err = cli("kubeadm", "sync", "--kubeconfig", str(fake.kubeconfig(tmp_path)))
        assert code == 6
        assert "changed by someone else 5 times" in err and "Traceback" not in err
        assert _stored(fake) == original


def test_sync_dry_run_shows_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    original = (FIXTURES / "configmap-v1beta3-v1.29.yaml").read_text()
    with FakeCluster(cluster_configuration=original) as fake:
        code, out, _ = cli("kubeadm", "sync", "--kubeconfig", str(fake.kubeconfig(tmp_path)), "--dry-run")
        assert code == 0
        assert '+    audit-log-maxage: "30"\n' in out
        assert _stored(fake) == original
        assert "PUT" not in [m for m, _ in fake.requests]


def test_sync_adopts_the_existing_audit_setup(tmp_path: Path) -> None:
    stored = (
        (FIXTURES / "configmap-v1beta3-v1.29.yaml")
        .read_text()
        .replace(
            "    authorization-mode: Node,RBAC\n",
            '    audit-log-maxsize: "500"\n    audit-log-path: /var/log/apiserver/audit.log\n'
            "    authorization-mode: Node,RBAC\n",
        )
    )
    with FakeCluster(cluster_configuration=stored) as fake:
        code, _, err = cli("kubeadm", "sync", "--kubeconfig", str(fake.kubeconfig(tmp_path)))
        assert code == 0, err
        text = _stored(fake)
    assert "audit-log-path: /var/log/apiserver/audit.log\n" in text
    assert 'audit-log-maxsize: "500"\n' in text  # above the profile's 100: kept
    assert "adopted existing log path /var/log/apiserver/audit.log" in err
    assert "hostPath: /var/log/apiserver\n" in text


def test_unreachable_cluster_is_one_clear_line(tmp_path: Path) -> None:
    fake = FakeCluster()
    kubeconfig = fake.kubeconfig(tmp_path)  # the server never started: nothing listens on the port
    fake.server.server_close()
    code, _, err = cli("kubeadm", "sync", "--kubeconfig", str(kubeconfig))
    assert code == 6
    assert "cannot reach the Kubernetes API" in err and "connection refused" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_forbidden_is_one_clear_line(tmp_path: Path) -> None:
    with FakeCluster(cluster_configuration="kind: ClusterConfiguration\n") as fake:
        fake.forbidden = True
        code, out, err = cli("kubeadm", "sync", "--kubeconfig", str(fake.kubeconfig(tmp_path)), "--json")
    assert code == 6
    assert "forbidden (403)" in err and len(err.strip().splitlines()) == 1
    assert json.loads(out)["errors"][0].startswith(fake.url)


def test_missing_kubeconfig_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = cli("kubeadm", "sync", "--root", str(tmp_path))
    assert code == 2
    assert "admin.conf: no such kubeconfig; pass --kubeconfig" in err


def test_broken_kubeconfig_is_invalid_input(tmp_path: Path) -> None:
    bad = tmp_path / "kubeconfig"
    bad.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    code, _, err = cli("kubeadm", "sync", "--kubeconfig", str(bad))
    assert code == 3
    assert "not a usable kubeconfig" in err and "Traceback" not in err
