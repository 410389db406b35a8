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
WORKLOADS = frozenset({("", "pods"), ("apps", "deployments"), ("apps", "daemonsets"), ("apps", "statefulsets"),
                       ("apps", "replicasets"), ("batch", "jobs"), ("batch", "cronjobs")})  # fmt: skip
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
    elif group == "certificates.k8s.io" and res == "certificatesigningrequests" and verb in ("create", "update"):
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


def _req(verb: str, user: str | None, groups: tuple[str, ...], resource: str = "", group: str = "",
         sub: str = "", namespace: str = "", name: str = "", path: str = "") -> Request:  # fmt: skip
    return Request(verb=verb, user=user, groups=groups, is_resource=not path, namespace=namespace,
                   api_group=group, resource=resource, subresource=sub, name=name, path=path)  # fmt: skip


_AUTH = ("system:authenticated",)
_HUMAN = ("alice", ("developers", *_AUTH))
_SA = ("system:serviceaccount:default:app", ("system:serviceaccounts", "system:serviceaccounts:default", *_AUTH))
_ANON = ("system:anonymous", ("system:unauthenticated",))


def probes() -> list[tuple[str, Request, int]]:
    """Synthetic requests, one or more per row, to run through a policy: (row, request, status code)."""
    out: list[tuple[str, Request, int]] = []
    for who in (_HUMAN, _SA):
        for ns in ("kube-system", "default"):
            out += [("K1", _req(v, *who, "secrets", namespace=ns), 200) for v in ("get", "list", "watch", "create")]
            out += [("K2", _req(v, *who, "configmaps", namespace=ns), 200) for v in ("get", "update")]
        out.append(("K3", _req("create", *who, "tokenreviews", "authentication.k8s.io"), 201))
        out.append(("K4", _req("create", *who, "serviceaccounts", sub="token", namespace="default", name="x"), 201))
        for sub in ("exec", "attach", "portforward"):
            out += [("K5" if sub != "portforward" else "K6", _req(v, *who, "pods", sub=sub, namespace="default"), 101)
                    for v in ("get", "create")]  # fmt: skip
        out += [("K7", _req("get", *who, r, sub="proxy", namespace=ns), 200)
                for r, ns in (("pods", "default"), ("services", "default"), ("nodes", ""))]  # fmt: skip
        out.append(("K8", _req("patch", *who, "pods", sub="ephemeralcontainers", namespace="default"), 200))
        out += [("K9", _req(v, *who, r, g, namespace="default"), 200)
                for v in ("create", "update", "delete") for g, r in (("", "pods"), ("apps", "deployments"))]
        out += [("K10", _req(v, *who, r, "rbac.authorization.k8s.io"), 200)
                for v in ("create", "update", "delete") for r in ("clusterrolebindings", "roles")]  # fmt: skip
        out.append(("K14", _req("create", *who, "services", namespace="default"), 201))
        out += [("K15", _req(v, *who, "namespaces"), 200) for v in ("create", "delete")]
        out.append(("K16", _req("create", *who, "nodes"), 201))
        out.append(("K17", _req("create", *who, "ingresses", "networking.k8s.io", namespace="default"), 201))
        out.append(("K18", _req("create", *who, "validatingwebhookconfigurations", "admissionregistration.k8s.io"),
                    201))  # fmt: skip
        out.append(("K19", _req("create", *who, "certificatesigningrequests", "certificates.k8s.io"), 201))
        out += [("K21", _req(v, *who, "events", g, namespace="default"), 200)
                for v in ("delete", "deletecollection") for g in ("", "events.k8s.io")]  # fmt: skip
    out += [("K11", _req("get", *_ANON, "namespaces"), 403), ("K11", _req("get", *_ANON, path="/api/v1"), 403)]
    out += [("K12", _req("list", None, (), "secrets", namespace="kube-system"), 401),
            ("K12", _req("get", None, (), "leases", "coordination.k8s.io", namespace="kube-node-lease"), 401),
            ("K12", _req("get", None, (), path="/apis"), 401)]  # fmt: skip
    out += [("K13", _req("list", *_SA, "secrets", namespace="kube-system"), 403)]
    out += [("K20", _req(v, *_HUMAN, "pods", namespace="default"), 200) for v in ("get", "list", "watch")]
    return out
