"""Explain on real-world audit logs: the URL decides, foreign and broken lines are skipped, never fatal."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kauditcfg.cli import app
from kauditcfg.policy.requestinfo import parse_request_uri

REPO = Path(__file__).resolve().parents[2]
LOGS = REPO / "fixtures" / "auditlogs"
NAMED = str(REPO / "fixtures" / "policies" / "named-configmap.yaml")
runner = CliRunner()


def explain_json(*paths: str, stdin: bytes | None = None) -> tuple[int, list[dict[str, object]], str]:
    result = runner.invoke(app, ["policy", "explain", "--policy", NAMED, "--json", *paths], input=stdin)
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def decisions(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [("skipped",) if "skipped" in r else (r["auditID"], r["level"], r["rule"]) for r in rows]


ID = "b1c2a3d4-0001-4a5b-9c8d-00000000000"


def test_mixed_log_one_output_line_per_input_line() -> None:
    code, rows, stderr = explain_json(str(LOGS / "real-world-mixed.log"))
    assert code == 0
    assert decisions(rows) == [
        ("skipped",),  # line 1: torn by rotation
        (ID + "1", "Metadata", 2),  # create: the URL has no name, the policy never saw "cluster-config"
        (ID + "2", "RequestResponse", 0),  # update: the name is in the URL
        (ID + "3", "RequestResponse", 1),  # pods/debug-shell/exec: the name is in the URL of a create
        ("skipped",),  # a GKE LogEntry
        ("skipped",),  # an AdmissionReview
        ("skipped",),  # a core/v1 Event
        ("skipped",),  # "kind": 0
        (ID + "5", "RequestResponse", 0),  # list ?fieldSelector=metadata.name=cluster-config
        (ID + "6", "Metadata", 2),  # /watch/... : the fieldSelector name is not used (special verb)
        (ID + "7", "Metadata", 2),
    ]
    assert rows[4]["skipped"] == "not an audit event (no kind, no auditID or stage)"
    assert rows[7]["skipped"].startswith("a field has the wrong type")  # type: ignore[union-attr]
    log = LOGS / "real-world-mixed.log"
    assert f"{log}: skipped 2 line(s) that are not readable audit events; the first: line 1: " in stderr
    assert f"{log}: skipped 3 line(s) that are not kube-apiserver audit events; the first: line 5: " in stderr
    assert stderr.count("warning:") == 2


def test_bom_eventlists_and_bad_items() -> None:
    code, rows, _ = explain_json(str(LOGS / "bom.log"))
    assert code == 0 and decisions(rows) == [
        (ID + "2", "RequestResponse", 0),
        (ID + "3", "RequestResponse", 1),
    ]
    code, rows, stderr = explain_json(str(LOGS / "eventlist-null-items.json"))
    assert (code, rows, stderr) == (0, [], "")
    code, rows, stderr = explain_json(str(LOGS / "eventlist-one-bad-item.json"))
    assert code == 0
    assert decisions(rows) == [(ID + "1", "Metadata", 2), ("skipped",), (ID + "3", "RequestResponse", 1)]
    assert "the first: item 2: a field has the wrong type" in stderr


def test_stdin_and_gzip_read_like_files(tmp_path: Path) -> None:
    raw = (LOGS / "real-world-mixed.log").read_bytes()
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(raw))
    expected = decisions(explain_json(str(LOGS / "real-world-mixed.log"))[1])
    assert decisions(explain_json("-", stdin=raw)[1]) == expected
    assert decisions(explain_json(str(tmp_path / "a.log.gz"))[1]) == expected


def test_exit_3_only_when_not_one_line_is_an_event(tmp_path: Path) -> None:
    junk = tmp_path / "junk.log"
    junk.write_text('{"torn": \nnot json at all\n{"kind": "AdmissionReview"}\n')
    result = runner.invoke(app, ["policy", "explain", "--policy", NAMED, "--json", str(junk)])
    assert result.exit_code == 3
    assert "no audit event could be read (3 line(s) skipped)" in result.stderr
    text = runner.invoke(app, ["policy", "explain", "--policy", NAMED, str(junk)])
    assert text.exit_code == 3


def _big_event(size: int) -> str:
    items = [{"metadata": {"name": f"cm-{i}", "namespace": "kube-system"}, "data": {"k": "v" * 900}}
             for i in range(size // 950)]  # fmt: skip
    return json.dumps({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "big", "stage": "ResponseComplete",
        "verb": "list", "requestURI": "/api/v1/namespaces/kube-system/configmaps?limit=500",
        "user": {"username": "alice", "groups": ["system:authenticated"]},
        "objectRef": {"resource": "configmaps", "namespace": "kube-system", "apiVersion": "v1"},
        "responseObject": {"kind": "ConfigMapList", "apiVersion": "v1", "items": items},
    })  # fmt: skip


@pytest.mark.parametrize("where", ["first", "middle"])
def test_an_event_of_5_mb_is_decided(tmp_path: Path, where: str) -> None:
    small = (LOGS / "bom.log").read_text(encoding="utf-8-sig").splitlines()
    big = _big_event(5 << 20)
    assert len(big) > 5 << 20
    lines = [big, *small] if where == "first" else [small[0], big, small[1]]
    log = tmp_path / "big.log"
    log.write_text("\n".join(lines) + "\n")
    code, rows, stderr = explain_json(str(log))
    assert code == 0 and stderr == ""
    by_id = {r["auditID"]: (r["level"], r["rule"]) for r in rows}
    assert by_id == {
        "big": ("Metadata", 2),
        ID + "2": ("RequestResponse", 0),
        ID + "3": ("RequestResponse", 1),
    }


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/api/v1/namespaces/prod/pods/web-0/exec?command=sh", ("", "v1", "prod", "pods", "exec", "web-0")),
        ("/api/v1/namespaces/prod", ("", "v1", "prod", "namespaces", "", "prod")),
        ("/api/v1/namespaces/prod/status", ("", "v1", "prod", "namespaces", "status", "prod")),
        ("/api/v1/namespaces/prod/finalize", ("", "v1", "prod", "namespaces", "finalize", "prod")),
        ("/api/v1/namespaces", ("", "v1", "", "namespaces", "", "")),
        (
            "/apis/apps/v1/namespaces/prod/deployments/web/scale",
            ("apps", "v1", "prod", "deployments", "scale", "web"),
        ),
        ("/api/v1/watch/namespaces/prod/pods/web-0", ("", "v1", "prod", "pods", "", "web-0")),
        ("/api/v1/proxy/namespaces/prod/pods/web-0/metrics", ("", "v1", "prod", "pods", "", "web-0")),
        (
            "/api/v1/namespaces/prod/serviceaccounts/build%2Dbot/token",
            ("", "v1", "prod", "serviceaccounts", "token", "build-bot"),
        ),
    ],
)
def test_request_info_from_the_url(uri: str, expected: tuple[str, ...]) -> None:
    info = parse_request_uri(uri)
    assert info is not None and tuple(info)[:6] == expected


@pytest.mark.parametrize("uri", ["/healthz", "/apis/apps/v1", "/apis", "/api/v1", "/openapi/v2", "/metrics"])
def test_non_resource_urls(uri: str) -> None:
    assert parse_request_uri(uri) is None


@pytest.mark.parametrize(
    ("query", "verb", "name"),
    [
        ("fieldSelector=metadata.name%3Dnode-1", "watch", "node-1"),
        ("fieldSelector=metadata.name%3D%3Dnode-1", "list", "node-1"),
        ("fieldSelector=spec.nodeName%3Dn%2Cmetadata.name%3Dweb", "list", "web"),
        ("fieldSelector=metadata.name%21%3Dweb", "list", ""),
        ("fieldSelector=metadata.name%3Dweb", "deletecollection", ""),
        ("fieldSelector=metadata.name%3D..", "list", ""),
    ],
)
def test_list_and_watch_take_their_name_from_the_field_selector(query: str, verb: str, name: str) -> None:
    info = parse_request_uri(f"/api/v1/namespaces/prod/pods?{query}")
    assert info is not None and info.name_for(verb) == name
