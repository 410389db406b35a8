"""The multi-process explain gives exactly the single-process bytes, in order, bad lines included."""

from __future__ import annotations

import io
import json
from pathlib import Path

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
    lines[2700] = '{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}'
    lines[2701] = '{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}'
    log.write_text("\n".join(lines) + "\n")
    policy = validate_policy_text(POLICY, "p", NEWEST).policy
    assert policy is not None

    alone = Explainer(policy)
    single = b"".join(alone.json_lines(batches_from([str(log)])))
    together = Explainer(policy)
    out = io.BytesIO()
    assert explain_file_parallel(together, str(log), out, min_bytes=0)

    assert out.getvalue() == single
    assert out.getvalue().count(b"\n") == 3000  # one line out per line in, skipped ones included
    assert together.events == alone.events == 2997
    skips = together.skips
    assert (skips.unreadable, skips.foreign) == (1, 2)
    assert skips.first_unreadable is not None and skips.first_unreadable.line == 2501
    assert skips.first_foreign is not None and skips.first_foreign.line == 2701
    assert json.loads(out.getvalue().split(b"\n")[2700]) == {
        "skipped": 'not an audit event (apiVersion "admission.k8s.io/v1", kind "AdmissionReview")'
    }
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
    assert not explain_file_parallel(Explainer(policy), str(log), io.BytesIO())  # type: ignore[arg-type]
    assert not explain_file_parallel(Explainer(policy), "-", io.BytesIO(), min_bytes=0)  # type: ignore[arg-type]
