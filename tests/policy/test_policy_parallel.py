"""The multi-process explain gives exactly the single-process bytes, in order, bad lines included."""

from __future__ import annotations

import io
import json
from pathlib import Path

from kauditcfg.policy.events import BadLine
from kauditcfg.policy.explain import Explainer, batches_from
from kauditcfg.policy.load import validate_policy_text
from kauditcfg.policy.parallel import explain_file_parallel
from kauditcfg.versions import NEWEST

POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  users: ["system:kube-proxy"]
- level: Metadata
  resources: [{group: "", resources: ["secrets"]}]
- level: Request
  verbs: ["create", "delete"]
- level: Metadata
"""


def _event(i: int) -> dict[str, object]:
    verbs = ["get", "create", "delete", "watch"]
    users = ["alice", "system:kube-proxy", "system:serviceaccount:kube-system:x"]
    resources = ["pods", "secrets", "configmaps"]
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "auditID": f"id-{i}",
        "stage": "ResponseComplete",
        "verb": verbs[i % 4],
        "user": {"username": users[i % 3], "groups": ["system:authenticated"]},
        "objectRef": {"resource": resources[i % 3], "namespace": f"ns{i % 5}", "apiVersion": "v1"},
        "requestURI": "/api/v1/namespaces/x",
    }


def test_parallel_output_equals_the_single_process_output(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    lines = [json.dumps(_event(i)) for i in range(3000)]
    lines[2500] = '{"torn": '  # a torn line in the last range
    log.write_text("\n".join(lines) + "\n")
    policy = validate_policy_text(POLICY, "p", NEWEST).policy
    assert policy is not None

    single = b"".join(
        x for x in Explainer(policy).json_lines(batches_from([str(log)])) if isinstance(x, bytes)
    )
    out = io.BytesIO()
    warned: list[BadLine] = []
    bad = explain_file_parallel(Explainer(policy), str(log), out, warned.append, min_bytes=0)  # type: ignore[arg-type]

    assert bad == 1
    assert [w.line for w in warned] == [2501]
    assert out.getvalue() == single
    assert out.getvalue().count(b"\n") == 2999
    first = json.loads(out.getvalue().split(b"\n")[0])
    assert first == {
        "auditID": "id-0",
        "level": "Metadata",
        "omitStages": ["RequestReceived"],
        "omitManagedFields": False,
        "rule": 3,
    }


def test_small_files_and_stdin_are_left_to_the_single_process(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(json.dumps(_event(1)) + "\n")
    policy = validate_policy_text(POLICY, "p", NEWEST).policy
    assert policy is not None
    assert explain_file_parallel(Explainer(policy), str(log), io.BytesIO(), print) is None  # type: ignore[arg-type]
    assert explain_file_parallel(Explainer(policy), "-", io.BytesIO(), print, min_bytes=0) is None  # type: ignore[arg-type]
