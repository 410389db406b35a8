"""The security-relevant requests an audit policy must keep (rows K1-K22), and probes for them.

Sources of the rows: CIS Kubernetes Benchmark 3.2.2 (kube-bench `controlplane.yaml`); the GCE
reference policy (kubernetes/kubernetes cluster/gce/gci/configure-helper.sh,
create-master-audit-policy); Falco's k8saudit rules (falcosecurity/plugins
plugins/k8saudit/rules/k8s_audit_rules.yaml: exec/attach match only stage ResponseStarted, the
rest only ResponseComplete); kubernetes/apiserver pkg/endpoints/filters/authn_audit.go (a 401 is
audited before any user exists, so only a rule without users/userGroups can keep it); the EKS best
practices guide (detective.md: aws-auth changes at RequestResponse).
"""

from __future__ import annotations

from dataclasses import dataclass

from kauditcfg.policy.model import LEVEL_RANK, Request

WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
WORKLOADS = frozenset(
    {
        ("", "pods"),
        ("apps", "deployments"),
        ("apps", "daemonsets"),
        ("apps", "statefulsets"),
        ("apps", "replicasets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
    }
)
RBAC = frozenset({"roles", "clusterroles", "rolebindings", "clusterrolebindings"})
WEBHOOKS = frozenset({"mutatingwebhookconfigurations", "validatingwebhookconfigurations"})
HEALTH = ("/healthz", "/livez", "/readyz")


@dataclass(frozen=True)
class Need:
    """A must-keep row that applies to a request: the least and the most the policy may log."""

    row: str
    minimum: str = "Metadata"
    maximum: str = "RequestResponse"
    # A level detections want on top of the minimum (e.g. the pod spec on create): advisory only.
    wanted: str | None = None
    keep_started: bool = False  # exec/attach alerts read the ResponseStarted stage


def needs(req: Request, code: int) -> list[Need]:
    """Every must-keep row `req` (answered with HTTP `code`) falls under."""
    found: list[Need] = []
    verb = req.verb
    if req.user is None:
        found.append(Need("K12"))
    elif req.user == "system:anonymous" or "system:unauthenticated" in req.groups:
        if req.is_resource or not req.path.startswith(HEALTH):
            found.append(Need("K11"))
    elif not req.user.startswith("system:"):
        found.append(Need("K20"))
    if code == 403:
        found.append(Need("K13"))
    if not req.is_resource:
        return found
    group, res, sub = req.api_group, req.resource, req.subresource
    core = group == ""
    if core and res == "secrets" and not sub:
        found.append(Need("K1", maximum="Metadata"))
    elif core and res == "configmaps" and not sub:
        aws_auth = req.name == "aws-auth" and req.namespace == "kube-system"
        if aws_auth and verb in ("update", "patch", "delete"):
            found.append(Need("K22", minimum="RequestResponse"))
        else:
            found.append(Need("K2", maximum="Metadata"))
    elif group == "authentication.k8s.io" and res == "tokenreviews":
        found.append(Need("K3", maximum="Metadata"))
    elif core and res == "serviceaccounts" and sub == "token":
        found.append(Need("K4", maximum="Metadata"))
    elif core and res == "pods" and sub in ("exec", "attach") and verb in ("create", "get"):
        found.append(Need("K5", keep_started=True))
    elif core and res == "pods" and sub == "portforward" and verb in ("create", "get"):
        found.append(Need("K6"))
    elif core and sub == "proxy" and res in ("pods", "services", "nodes"):
        found.append(Need("K7"))
    elif core and res == "pods" and sub == "ephemeralcontainers" and verb in ("update", "patch"):
        found.append(Need("K8", wanted="Request"))
    elif (group, res) in WORKLOADS and not sub and verb in ("create", "update", "patch", "delete"):
        found.append(Need("K9", wanted="Request" if res == "pods" and verb == "create" else None))
    elif group == "rbac.authorization.k8s.io" and res in RBAC and verb in WRITES:
        found.append(Need("K10", wanted="Request" if verb == "create" else None))
    elif core and res == "services" and not sub and verb == "create":
        found.append(Need("K14", wanted="Request"))
    elif core and res in ("namespaces", "serviceaccounts") and not sub and verb in ("create", "delete"):
        found.append(Need("K15"))
    elif core and res == "nodes" and not sub and verb == "create":
        found.append(Need("K16"))
    elif group == "networking.k8s.io" and res == "ingresses" and verb == "create":
        found.append(Need("K17", wanted="Request"))
    elif group == "admissionregistration.k8s.io" and res in WEBHOOKS and verb in WRITES:
        found.append(Need("K18"))
    elif (
        group == "certificates.k8s.io"
        and res == "certificatesigningrequests"
        and verb in ("create", "update")
    ):
        found.append(Need("K19"))
    elif res == "events" and group in ("", "events.k8s.io") and verb in ("delete", "deletecollection"):
        found.append(Need("K21"))
    return found


def problem(need: Need, level: str, omit_stages: tuple[str, ...], stage: str) -> str | None:
    """Why a decision breaks `need` for a line of `stage` (None: it keeps it)."""
    rank = LEVEL_RANK[level]
    if rank < LEVEL_RANK[need.minimum]:
        return "dropped" if level == "None" else f"logged at {level}, below {need.minimum}"
    if rank > LEVEL_RANK[need.maximum]:
        return f"logged at {level}: its body reaches the log (at most {need.maximum})"
    if "ResponseComplete" in omit_stages and stage == "ResponseComplete":
        return "stage ResponseComplete omitted (detections read it)"
    if need.keep_started and "ResponseStarted" in omit_stages and stage == "ResponseStarted":
        return "stage ResponseStarted omitted (exec/attach alerts read it)"
    return None


Identity = tuple[str | None, tuple[str, ...]]
_AUTH = "system:authenticated"
_PEOPLE: tuple[Identity, ...] = (
    ("alice", ("developers", _AUTH)),
    (
        "system:serviceaccount:default:app",
        ("system:serviceaccounts", "system:serviceaccounts:default", _AUTH),
    ),
)
_ANON: Identity = ("system:anonymous", ("system:unauthenticated",))
_NOBODY: Identity = (None, ())
# (row, verbs, group, resource, subresource, namespace, status code), asked by each of _PEOPLE.
_ASKED: tuple[tuple[str, tuple[str, ...], str, str, str, str, int], ...] = (
    ("K1", ("get", "list", "watch", "create"), "", "secrets", "", "kube-system", 200),
    ("K1", ("get", "list"), "", "secrets", "", "default", 200),
    ("K2", ("get", "update"), "", "configmaps", "", "kube-system", 200),
    ("K3", ("create",), "authentication.k8s.io", "tokenreviews", "", "", 201),
    ("K4", ("create",), "", "serviceaccounts", "token", "default", 201),
    ("K5", ("get", "create"), "", "pods", "exec", "default", 101),
    ("K5", ("get", "create"), "", "pods", "attach", "default", 101),
    ("K6", ("get", "create"), "", "pods", "portforward", "default", 101),
    ("K7", ("get",), "", "pods", "proxy", "default", 200),
    ("K7", ("get",), "", "services", "proxy", "default", 200),
    ("K7", ("get",), "", "nodes", "proxy", "", 200),
    ("K8", ("patch",), "", "pods", "ephemeralcontainers", "default", 200),
    ("K9", ("create", "update", "delete"), "", "pods", "", "default", 200),
    ("K9", ("create", "update", "delete"), "apps", "deployments", "", "default", 200),
    ("K10", ("create", "update", "delete"), "rbac.authorization.k8s.io", "clusterrolebindings", "", "", 200),
    ("K10", ("create", "update", "delete"), "rbac.authorization.k8s.io", "roles", "", "default", 200),
    ("K14", ("create",), "", "services", "", "default", 201),
    ("K15", ("create", "delete"), "", "namespaces", "", "", 200),
    ("K16", ("create",), "", "nodes", "", "", 201),
    ("K17", ("create",), "networking.k8s.io", "ingresses", "", "default", 201),
    ("K18", ("create",), "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "", 201),
    ("K19", ("create",), "certificates.k8s.io", "certificatesigningrequests", "", "", 201),
    ("K21", ("delete", "deletecollection"), "", "events", "", "default", 200),
    ("K21", ("delete", "deletecollection"), "events.k8s.io", "events", "", "default", 200),
)


def _req(
    verb: str,
    who: Identity,
    group: str = "",
    resource: str = "",
    sub: str = "",
    namespace: str = "",
    path: str = "",
) -> Request:
    return Request(
        verb=verb,
        user=who[0],
        groups=who[1],
        is_resource=not path,
        namespace=namespace,
        api_group=group,
        resource=resource,
        subresource=sub,
        path=path,
    )


def probes() -> list[tuple[str, Request, int]]:
    """Synthetic requests, one or more per row, to run through a policy: (row, request, status code)."""
    out = [
        (row, _req(verb, who, group, resource, sub, namespace), code)
        for who in _PEOPLE
        for row, verbs, group, resource, sub, namespace, code in _ASKED
        for verb in verbs
    ]
    out += [
        ("K11", _req("get", _ANON, "", "namespaces"), 403),
        ("K11", _req("get", _ANON, path="/api/v1"), 403),
        ("K12", _req("list", _NOBODY, "", "secrets", namespace="kube-system"), 401),
        ("K12", _req("get", _NOBODY, "coordination.k8s.io", "leases", namespace="kube-node-lease"), 401),
        ("K12", _req("get", _NOBODY, path="/apis"), 401),
        ("K13", _req("list", _PEOPLE[1], "", "secrets", namespace="kube-system"), 403),
    ]
    out += [("K20", _req(verb, _PEOPLE[0], "", "pods", namespace="default"), 200) for verb in ("get", "list")]
    return out
