"""Property: explain on an audit log agrees with the single-request explain and with lint.

For random policies and random realistic requests (what kube-apiserver could see: no name on a
plain create or a deletecollection), an audit event is written the way kube-apiserver writes it
(URL from RequestInfo, objectRef.name filled from the body on creates), and:
  * `explain` on a one-event log gives exactly the decision of `explain --user ... --verb ...`;
  * `explain` on a log of many events gives every event its own decision (the cache is exact);
  * every Secret/ConfigMap/TokenReview leak that lint reports is reproduced by explain on an
    event built from its example request: same rule, a level that writes that verb's body.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kauditcfg.cli.policy_explain import single_request as _single_request
from kauditcfg.config.defaults import LEVELS
from kauditcfg.policy.compliance import body_leaks, logs_body
from kauditcfg.policy.evaluate import Evaluator
from kauditcfg.policy.events import read_batches
from kauditcfg.policy.explain import Explainer
from kauditcfg.policy.load import validate_policy_text
from kauditcfg.policy.matrix import possible_name
from kauditcfg.policy.model import STAGES, Policy, Request

VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
USERS = ["alice", "tim", "system:node:n1"]
GROUPS = ["testers", "system:nodes", "system:authenticated"]
NAMESPACES = ["", "prod", "kube-system"]
PATTERNS = [
    "secrets",
    "configmaps",
    "pods",
    "pods/exec",
    "pods/*",
    "*/status",
    "*",
    "deployments",
    "tokenreviews",
]
API_GROUPS = ["", "apps", "authentication.k8s.io"]
NAMES = ["db", "web-0"]
URLS = ["/healthz*", "/metrics", "/version", "*"]
PATHS = ["/healthz", "/healthz/etcd", "/metrics", "/version", "/apis"]


def subset(values: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), max_size=2, unique=True)


group_resources = st.fixed_dictionaries(
    {"group": st.sampled_from(API_GROUPS), "resources": subset(PATTERNS)},
    optional={"resourceNames": st.lists(st.sampled_from(NAMES), min_size=1, max_size=1)},
).filter(lambda gr: gr["resources"] or "resourceNames" not in gr)


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    rule: dict[str, Any] = {"level": draw(st.sampled_from(LEVELS))}
    for key, values in (
        ("users", USERS),
        ("userGroups", GROUPS),
        ("verbs", VERBS),
        ("omitStages", list(STAGES)),
    ):
        if chosen := draw(subset(values)):
            rule[key] = chosen
    kind = draw(st.sampled_from(["resources", "namespaces", "both", "urls", "none"]))
    if kind in ("resources", "both"):
        rule["resources"] = draw(st.lists(group_resources, min_size=1, max_size=2))
    if kind in ("namespaces", "both"):
        rule["namespaces"] = draw(st.lists(st.sampled_from(NAMESPACES), min_size=1, max_size=2, unique=True))
    if kind == "urls":
        rule["nonResourceURLs"] = draw(st.lists(st.sampled_from(URLS), min_size=1, max_size=2, unique=True))
    return rule


policies = st.builds(
    lambda rs, omit: {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": omit, "rules": rs},
    st.lists(rules(), min_size=1, max_size=5),
    subset(list(STAGES)),
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """Options of `explain --user ... --verb ...` for a request kube-apiserver could receive."""
    opts: dict[str, Any] = {
        key: None for key in ("namespace", "resource", "subresource", "api_group", "name", "path")
    }
    opts["verb"] = draw(st.sampled_from(VERBS))
    opts["user"] = draw(st.sampled_from(USERS))
    opts["group"] = draw(subset(GROUPS))
    if draw(st.booleans()):
        opts["verb"] = "get"
        opts["path"] = draw(st.sampled_from(PATHS))
        return opts
    resource = draw(st.sampled_from(["secrets", "configmaps", "pods", "deployments", "tokenreviews"]))
    sub = draw(st.sampled_from(["", "", "exec", "status"])) if resource == "pods" else ""
    opts["resource"] = f"{resource}/{sub}" if sub else resource
    opts["api_group"] = {"deployments": "apps", "tokenreviews": "authentication.k8s.io"}.get(resource) or None
    if resource != "tokenreviews":
        opts["namespace"] = draw(st.sampled_from(["prod", "kube-system"]))
    if possible_name(opts["verb"], sub) and (sub or draw(st.booleans())):
        opts["name"] = draw(st.sampled_from(NAMES))
    return opts


def event_for(req: Request, audit_id: str) -> dict[str, Any]:
    """The audit event kube-apiserver writes for `req` (URL as RequestInfo parses it)."""
    event: dict[str, Any] = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": audit_id, "stage": "ResponseComplete",
        "verb": req.verb, "user": {"username": req.user, "groups": list(req.groups)},
    }  # fmt: skip
    if not req.is_resource:
        event["requestURI"] = req.path + "?timeout=32s"
        return event
    path = f"/apis/{req.api_group}/v1" if req.api_group else "/api/v1"
    path += f"/namespaces/{req.namespace}" if req.namespace else ""
    path += f"/{req.resource}"
    query = ""
    if req.name and req.verb in ("list", "watch"):
        query = f"?fieldSelector=metadata.name%3D{req.name}"
    elif req.name and (req.verb != "create" or req.subresource):  # a create posts to the collection
        path += f"/{req.name}" + (f"/{req.subresource}" if req.subresource else "")
    event["requestURI"] = path + query
    ref = {
        "resource": req.resource,
        "namespace": req.namespace,
        "apiGroup": req.api_group,
        "apiVersion": "v1",
    }
    if req.subresource:
        ref["subresource"] = req.subresource
    # On a create, LogRequestObject fills objectRef.name from the body after the policy decided.
    ref["name"] = req.name or (NAMES[0] if req.verb == "create" else "")
    event["objectRef"] = ref
    return event


def load(doc: dict[str, Any]) -> Policy:
    result = validate_policy_text(json.dumps(doc), "p.json", (1, 36))
    assert result.ok and result.policy is not None, result.errors
    return result.policy


def explain_log(policy: Policy, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "audit.log"
        log.write_text("".join(json.dumps(e) + "\n" for e in events))
        out = b"".join(Explainer(policy).json_lines(read_batches(str(log))))
    return [json.loads(line) for line in out.splitlines()]


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


NAMED_CREATE = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "rules": [
        {"level": "RequestResponse", "verbs": ["create"],
         "resources": [{"group": "", "resources": ["secrets"], "resourceNames": [NAMES[0]]}]},
        {"level": "Metadata"},
    ],
}  # fmt: skip
CREATE = {"verb": "create", "user": "alice", "group": [], "namespace": "prod", "resource": "secrets",
          "subresource": None, "api_group": None, "name": None, "path": None}  # fmt: skip


@SETTINGS
@example(NAMED_CREATE, CREATE)
@given(policies, requests())
def test_explain_on_a_one_event_log_equals_single_request_explain(
    doc: dict[str, Any], opts: dict[str, Any]
) -> None:
    policy = load(doc)
    req = _single_request(opts)
    single = Evaluator(policy).evaluate(req).to_json()
    (row,) = explain_log(policy, [event_for(req, "one")])
    assert row == {"auditID": "one", **single}


@SETTINGS
@given(policies, st.lists(requests(), min_size=2, max_size=12))
def test_every_event_of_a_log_gets_its_own_decision(doc: dict[str, Any], many: list[dict[str, Any]]) -> None:
    policy = load(doc)
    reqs = [_single_request(opts) for opts in many]
    rows = explain_log(policy, [event_for(req, str(i)) for i, req in enumerate(reqs)])
    evaluator = Evaluator(policy)
    assert rows == [{"auditID": str(i), **evaluator.evaluate(req).to_json()} for i, req in enumerate(reqs)]


@SETTINGS
@example(NAMED_CREATE)
@given(policies)
def test_lint_never_reports_a_leak_explain_cannot_reproduce(doc: dict[str, Any]) -> None:
    policy = load(doc)
    leaks = body_leaks(policy)
    if not leaks:
        return
    rows = explain_log(policy, [event_for(leak.request, str(i)) for i, leak in enumerate(leaks)])
    for leak, row in zip(leaks, rows, strict=True):
        assert row["rule"] == leak.rule and row["level"] == leak.level
        assert logs_body(str(row["level"]), leak.request.verb)
