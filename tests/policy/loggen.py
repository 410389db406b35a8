"""A realistic kube-apiserver audit log, captured with a RequestResponse-everything policy.

The mix follows what real clusters show (kubelet docs "Heartbeats": one Lease update per node every
10 s, NodeStatus every 5 min; client-go leaderelection: the leader renews every 2 s, followers get
every ~3 s; system:apiserver endpoint reads; kube-proxy/coredns watches; discovery GETs; health
probes), plus a thin tail of human and attacker traffic holding every must-keep case: exec over
WebSocket (GET), a 401 without a user, a 403, an anonymous request, RBAC and webhook writes, Secret
reads, event deletes. Every stage is written (RequestReceived included), with request and response
bodies carrying managedFields, as kube-apiserver writes them: compact JSON, one event per line.

    python tests/policy/loggen.py OUT.log --seconds 3600 --nodes 20
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
AUTH = "system:authenticated"
KCM = "system:kube-controller-manager"
SCHED = "system:kube-scheduler"
APISERVER = "system:apiserver"


def _ts(t: float) -> str:
    return (START + timedelta(seconds=t)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _managed(manager: str, fields: int, rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "manager": manager,
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2026-03-01T08:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {f"f:label-{j}": {} for j in range(fields)}}},
        },
        {
            "manager": "kubectl-client-side-apply",
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2026-03-01T08:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {f"f:field{j}": {} for j in range(rng.randint(2, 6))}},
        },
    ]


def _meta(name: str, namespace: str, manager: str, rng: random.Random, fields: int = 6) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta.update(
        {
            "uid": str(uuid.UUID(int=rng.getrandbits(128))),
            "resourceVersion": str(rng.randint(10**6, 10**8)),
            "creationTimestamp": "2026-03-01T08:00:00Z",
            "labels": {"app.kubernetes.io/name": name[:40]},
            "managedFields": _managed(manager, fields, rng),
        }
    )
    return meta


def _object(
    kind: str, api: str, name: str, ns: str, manager: str, rng: random.Random, spec: int
) -> dict[str, Any]:
    return {
        "kind": kind,
        "apiVersion": api,
        "metadata": _meta(name, ns, manager, rng),
        "spec": {f"key{j}": "v" * rng.randint(8, 40) for j in range(spec)},
    }


@dataclass
class Call:
    """One request: who did what to which object, and what kube-apiserver answered."""

    user: str | None
    groups: tuple[str, ...]
    verb: str
    resource: str = ""
    group: str = ""
    version: str = "v1"
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    path: str = ""
    code: int = 200
    kind: str = "Object"
    body_in: int = 0  # request body: number of spec keys (0: none)
    body_out: int = 0  # response body: spec keys (-1: a list of several items)
    items: int = 0
    long_running: bool = False
    agent: str = "kube-controller-manager/v1.30.4 (linux/amd64) kubernetes/abcdef0"


def _uri(c: Call) -> str:
    if c.path:
        return c.path
    base = f"/apis/{c.group}/{c.version}" if c.group else f"/api/{c.version}"
    if c.namespace:
        base += f"/namespaces/{c.namespace}"
    base += f"/{c.resource}"
    if c.name:
        base += f"/{c.name}"
    if c.subresource:
        base += f"/{c.subresource}"
    if c.verb == "watch":
        base += "?allowWatchBookmarks=true&watch=true"
    return base


def events_of(c: Call, t: float, rng: random.Random) -> Iterator[dict[str, Any]]:
    """The stage lines of one request, in the field order kube-apiserver writes."""
    audit_id = str(uuid.UUID(int=rng.getrandbits(128)))
    stages = (
        ["RequestReceived", "ResponseStarted", "ResponseComplete"]
        if c.long_running
        else ["RequestReceived", "ResponseComplete"]
    )
    api = f"{c.group}/{c.version}" if c.group else c.version
    manager = (c.user or "unknown").rsplit(":", 1)[-1]
    source_ip = f"10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)}"
    request_body = (
        _object(c.kind, api, c.name or "new-object", c.namespace, manager, rng, c.body_in)
        if c.body_in
        else None
    )
    if c.body_out > 0:
        response_body: dict[str, Any] | None = _object(
            c.kind, api, c.name or "obj", c.namespace, manager, rng, c.body_out
        )
    elif c.body_out < 0:
        response_body = {
            "kind": c.kind + "List",
            "apiVersion": api,
            "metadata": {"resourceVersion": str(rng.randint(10**6, 10**8))},
            "items": [
                _object(c.kind, api, f"{c.resource}-{i}", c.namespace, manager, rng, 12)
                for i in range(c.items)
            ],
        }
    else:
        response_body = None
    duration = 300.0 if c.verb == "watch" else 0.01 + rng.random() * 0.05
    for stage in stages:
        ev: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "RequestResponse",
            "auditID": audit_id,
            "stage": stage,
            "requestURI": _uri(c),
            "verb": c.verb,
        }
        user: dict[str, Any] = {}
        if c.user is not None:
            user = {
                "username": c.user,
                "uid": str(uuid.uuid5(uuid.NAMESPACE_OID, c.user)),
                "groups": list(c.groups),
            }
            if c.user.startswith("system:serviceaccount:"):
                # Bound service-account tokens carry these (kubernetes/kubernetes pkg/serviceaccount).
                pod = c.user.rsplit(":", 1)[-1] + "-7d9c5b6f4-x2k8p"
                user["extra"] = {
                    "authentication.kubernetes.io/credential-id": [
                        f"JTI={uuid.uuid5(uuid.NAMESPACE_URL, pod)}"
                    ],
                    "authentication.kubernetes.io/node-name": ["node-0"],
                    "authentication.kubernetes.io/node-uid": [str(uuid.uuid5(uuid.NAMESPACE_DNS, "node-0"))],
                    "authentication.kubernetes.io/pod-name": [pod],
                    "authentication.kubernetes.io/pod-uid": [str(uuid.uuid5(uuid.NAMESPACE_X500, pod))],
                }
        ev["user"] = user
        ev["sourceIPs"] = [source_ip]
        ev["userAgent"] = c.agent
        if not c.path:
            ref: dict[str, Any] = {"resource": c.resource}
            if c.namespace:
                ref["namespace"] = c.namespace
            if c.name:
                ref["name"] = c.name
            if c.group:
                ref["apiGroup"] = c.group
            ref["apiVersion"] = c.version
            if c.subresource:
                ref["subresource"] = c.subresource
            ev["objectRef"] = ref
        if stage != "RequestReceived":
            status: dict[str, Any] = {"metadata": {}, "code": c.code}
            if c.code >= 400:
                status.update(
                    {"status": "Failure", "reason": "Forbidden" if c.code == 403 else "Unauthorized"}
                )
            ev["responseStatus"] = status
        if stage == "ResponseComplete" and c.code < 400:
            if request_body is not None:
                ev["requestObject"] = request_body
            if response_body is not None:
                ev["responseObject"] = response_body
        ev["requestReceivedTimestamp"] = _ts(t)
        ev["stageTimestamp"] = _ts(t + (duration if stage == "ResponseComplete" else 0.0005))
        annotations = {"authorization.k8s.io/decision": "forbid" if c.code == 403 else "allow"}
        if c.code != 401:
            annotations["authorization.k8s.io/reason"] = (
                "" if c.code == 403 else "RBAC: allowed by ClusterRoleBinding"
            )
            ev["annotations"] = annotations
        yield ev


def _sa(ns: str, name: str) -> tuple[str, tuple[str, ...]]:
    return f"system:serviceaccount:{ns}:{name}", (
        "system:serviceaccounts",
        f"system:serviceaccounts:{ns}",
        AUTH,
    )


def _node(n: str) -> tuple[str, tuple[str, ...]]:
    return f"system:node:{n}", ("system:nodes", AUTH)


def periodic_calls(nodes: list[str]) -> list[tuple[float, Call]]:
    """(period seconds, call) for the machine traffic of a cluster."""
    calls: list[tuple[float, Call]] = []
    kubelet = "kubelet/v1.30.4 (linux/amd64) kubernetes/abcdef0"
    for n in nodes:
        user, groups = _node(n)
        lease = dict(
            resource="leases",
            group="coordination.k8s.io",
            namespace="kube-node-lease",
            name=n,
            kind="Lease",
            agent=kubelet,
        )
        calls.append((10.0, Call(user, groups, "update", body_in=3, body_out=3, **lease)))  # type: ignore[arg-type]
        calls.append(
            (
                300.0,
                Call(
                    user,
                    groups,
                    "patch",
                    resource="nodes",
                    name=n,
                    subresource="status",
                    kind="Node",
                    body_in=160,
                    body_out=260,
                    agent=kubelet,
                ),
            )
        )
        calls.append(
            (
                60.0,
                Call(user, groups, "get", resource="nodes", name=n, kind="Node", body_out=200, agent=kubelet),
            )
        )
        calls.append(
            (
                120.0,
                Call(
                    user,
                    groups,
                    "patch",
                    resource="pods",
                    namespace="prod",
                    name=f"web-{n}",
                    subresource="status",
                    kind="Pod",
                    body_in=30,
                    body_out=60,
                    agent=kubelet,
                ),
            )
        )
        calls.append(
            (
                150.0,
                Call(
                    user,
                    groups,
                    "create",
                    resource="events",
                    namespace="prod",
                    kind="Event",
                    body_in=8,
                    body_out=8,
                    agent=kubelet,
                ),
            )
        )
        proxy = _sa("kube-system", "kube-proxy")
        calls.append(
            (
                300.0,
                Call(
                    "system:kube-proxy",
                    (AUTH,),
                    "watch",
                    resource="endpointslices",
                    group="discovery.k8s.io",
                    long_running=True,
                ),
            )
        )
        calls.append((300.0, Call(proxy[0], proxy[1], "watch", resource="services", long_running=True)))
    leader = dict(resource="leases", group="coordination.k8s.io", namespace="kube-system", kind="Lease")
    for component in (KCM, SCHED):
        short = component.split(":")[-1]
        calls.append((2.0, Call(component, (AUTH,), "update", name=short, body_in=3, body_out=3, **leader)))  # type: ignore[arg-type]
        for _ in range(2):  # two followers (three control-plane nodes)
            calls.append((3.0, Call(component, (AUTH,), "get", name=short, body_out=3, **leader)))  # type: ignore[arg-type]
    for resource, group in (("endpoints", ""), ("endpointslices", "discovery.k8s.io")):
        calls.append(
            (
                10.0 / max(1, len(nodes) // 5),
                Call(
                    APISERVER,
                    ("system:masters",),
                    "get",
                    resource=resource,
                    group=group,
                    namespace="default",
                    name="kubernetes",
                    kind="Endpoints",
                    body_out=6,
                ),
            )
        )
    metrics = _sa("kube-system", "metrics-server")
    calls.append(
        (
            20.0,
            Call(
                metrics[0],
                metrics[1],
                "create",
                resource="subjectaccessreviews",
                group="authorization.k8s.io",
                kind="SubjectAccessReview",
                body_in=6,
                body_out=8,
            ),
        )
    )
    calls.append(
        (
            60.0,
            Call(
                metrics[0],
                metrics[1],
                "create",
                resource="tokenreviews",
                group="authentication.k8s.io",
                kind="TokenReview",
                body_in=4,
                body_out=6,
            ),
        )
    )
    coredns = _sa("kube-system", "coredns")
    calls.append(
        (
            60.0,
            Call(
                coredns[0],
                coredns[1],
                "watch",
                resource="endpointslices",
                group="discovery.k8s.io",
                long_running=True,
            ),
        )
    )
    calls.append(
        (
            60.0,
            Call(
                coredns[0], coredns[1], "list", resource="namespaces", kind="Namespace", body_out=-1, items=6
            ),
        )
    )
    gc_sa = _sa("kube-system", "generic-garbage-collector")
    for path in ("/api", "/apis", "/api/v1", "/apis/apps/v1"):
        calls.append((30.0, Call(gc_sa[0], gc_sa[1], "get", path=path)))
    calls.append(
        (
            30.0,
            Call(
                KCM,
                (AUTH,),
                "get",
                resource="pods",
                group="metrics.k8s.io",
                version="v1beta1",
                namespace="prod",
                kind="PodMetrics",
                body_out=-1,
                items=3,
            ),
        )
    )
    rs = _sa("kube-system", "replicaset-controller")
    calls.append(
        (
            40.0,
            Call(
                rs[0],
                rs[1],
                "update",
                resource="replicasets",
                group="apps",
                namespace="prod",
                name="web-7d9",
                subresource="status",
                kind="ReplicaSet",
                body_in=20,
                body_out=40,
            ),
        )
    )
    calls.append(
        (
            45.0,
            Call(
                rs[0],
                rs[1],
                "create",
                resource="events",
                namespace="prod",
                kind="Event",
                body_in=8,
                body_out=8,
            ),
        )
    )
    # Informers: controllers watch the Secrets and ConfigMaps they need (re-listed when a watch ends).
    calls.append(
        (300.0, Call(rs[0], rs[1], "watch", resource="secrets", namespace="kube-system", long_running=True))
    )
    for path in ("/healthz", "/livez", "/readyz"):
        calls.append(
            (
                10.0,
                Call(
                    "system:anonymous", ("system:unauthenticated",), "get", path=path, agent="kube-probe/1.30"
                ),
            )
        )
    calls.append(
        (
            300.0,
            Call(KCM, (AUTH,), "watch", resource="configmaps", namespace="kube-system", long_running=True),
        )
    )
    return calls


def human_calls() -> list[Call]:
    """The thin tail: people and attackers, holding every must-keep case (K1-K21)."""
    alice, bob = ("alice", ("developers", AUTH)), ("bob", ("system:masters", AUTH))
    kubectl = "kubectl/v1.30.4 (linux/amd64) kubernetes/abcdef0"
    app = _sa("default", "app")
    h = dict(agent=kubectl)
    return [
        Call(
            *alice, "list", resource="pods", namespace="prod", kind="Pod", body_out=-1, items=40, **h
        ),  # K20
        Call(
            *alice,
            "get",
            resource="secrets",
            namespace="kube-system",
            name="bootstrap-token-abc",
            kind="Secret",
            body_out=4,
            **h,
        ),  # K1: a human reading kube-system Secrets
        Call(
            *alice,
            "list",
            resource="secrets",
            namespace="kube-system",
            kind="Secret",
            body_out=-1,
            items=5,
            **h,
        ),
        Call(
            *bob,
            "update",
            resource="configmaps",
            namespace="prod",
            name="app-config",
            kind="ConfigMap",
            body_in=12,
            body_out=12,
            **h,
        ),  # K2
        Call(
            *bob,
            "create",
            resource="tokenreviews",
            group="authentication.k8s.io",
            kind="TokenReview",
            body_in=4,
            body_out=6,
            **h,
        ),  # K3
        Call(
            *bob,
            "create",
            resource="serviceaccounts",
            namespace="prod",
            name="app",
            subresource="token",
            kind="TokenRequest",
            body_in=3,
            body_out=5,
            **h,
        ),  # K4
        Call(
            *alice,
            "get",
            resource="pods",
            namespace="prod",
            name="web-0",
            subresource="exec",
            long_running=True,
            **h,
        ),  # K5: exec over WebSocket is a GET
        Call(
            *bob,
            "create",
            resource="pods",
            namespace="prod",
            name="web-1",
            subresource="exec",
            long_running=True,
            **h,
        ),  # K5: exec over SPDY is a POST
        Call(
            *alice,
            "create",
            resource="pods",
            namespace="prod",
            name="web-0",
            subresource="attach",
            long_running=True,
            **h,
        ),
        Call(
            *alice,
            "create",
            resource="pods",
            namespace="prod",
            name="web-0",
            subresource="portforward",
            long_running=True,
            **h,
        ),  # K6
        Call(*alice, "get", resource="pods", namespace="prod", name="web-0", subresource="proxy", **h),  # K7
        Call(*alice, "get", resource="services", namespace="prod", name="web", subresource="proxy", **h),
        Call(*bob, "get", resource="nodes", name="node-0", subresource="proxy", **h),
        Call(
            *bob,
            "patch",
            resource="pods",
            namespace="prod",
            name="web-0",
            subresource="ephemeralcontainers",
            kind="Pod",
            body_in=10,
            body_out=40,
            **h,
        ),  # K8
        Call(
            *bob,
            "create",
            resource="pods",
            namespace="prod",
            name="debug",
            kind="Pod",
            body_in=30,
            body_out=40,
            **h,
        ),  # K9
        Call(
            *bob,
            "update",
            resource="deployments",
            group="apps",
            namespace="prod",
            name="web",
            kind="Deployment",
            body_in=30,
            body_out=50,
            **h,
        ),
        Call(
            *bob,
            "create",
            resource="clusterrolebindings",
            group="rbac.authorization.k8s.io",
            name="pwn-admin",
            kind="ClusterRoleBinding",
            body_in=6,
            body_out=6,
            **h,
        ),  # K10
        Call(
            *bob,
            "delete",
            resource="roles",
            group="rbac.authorization.k8s.io",
            namespace="prod",
            name="reader",
            kind="Role",
            **h,
        ),
        Call(
            "system:anonymous",
            ("system:unauthenticated",),
            "get",
            resource="namespaces",
            code=403,
            agent="curl/8.5.0",
        ),  # K11
        Call("system:anonymous", ("system:unauthenticated",), "get", path="/version", agent="curl/8.5.0"),
        Call(
            None, (), "list", resource="secrets", namespace="kube-system", code=401, agent="curl/8.5.0"
        ),  # K12: a stolen, expired token
        Call(*app, "list", resource="secrets", namespace="kube-system", code=403, agent="curl/8.5.0"),  # K13
        Call(
            *bob,
            "create",
            resource="services",
            namespace="prod",
            name="web-np",
            kind="Service",
            body_in=8,
            body_out=10,
            **h,
        ),  # K14
        Call(
            *bob,
            "create",
            resource="namespaces",
            name="scratch",
            kind="Namespace",
            body_in=2,
            body_out=3,
            **h,
        ),
        Call(*bob, "delete", resource="serviceaccounts", namespace="kube-system", name="old", **h),  # K15
        Call(
            *_node("node-new"),
            "create",
            resource="nodes",
            name="node-new",
            kind="Node",
            body_in=40,
            body_out=40,
        ),  # K16
        Call(
            *bob,
            "create",
            resource="ingresses",
            group="networking.k8s.io",
            namespace="prod",
            name="web",
            kind="Ingress",
            body_in=8,
            body_out=10,
            **h,
        ),  # K17
        Call(
            *bob,
            "create",
            resource="validatingwebhookconfigurations",
            group="admissionregistration.k8s.io",
            name="policy",
            kind="ValidatingWebhookConfiguration",
            body_in=10,
            body_out=10,
            **h,
        ),  # K18
        Call(
            *alice,
            "create",
            resource="certificatesigningrequests",
            group="certificates.k8s.io",
            name="alice",
            kind="CertificateSigningRequest",
            body_in=6,
            body_out=6,
            **h,
        ),  # K19
        Call(
            *bob,
            "update",
            resource="certificatesigningrequests",
            group="certificates.k8s.io",
            name="alice",
            subresource="approval",
            kind="CertificateSigningRequest",
            body_in=6,
            body_out=6,
            **h,
        ),
        Call(*bob, "delete", resource="events", namespace="prod", name="web-0.17a", **h),  # K21
        Call(*bob, "deletecollection", resource="events", group="events.k8s.io", namespace="prod", **h),
    ]


def generate(out: IO[bytes], seconds: int = 600, nodes: int = 5, seed: int = 7) -> int:
    """Write `seconds` of traffic of a cluster of `nodes` nodes; returns the number of lines."""
    rng = random.Random(seed)
    names = [f"node-{i}" for i in range(nodes)]
    schedule = [(period, rng.uniform(0, period), call) for period, call in periodic_calls(names)]
    humans = human_calls()
    human_at = {int(seconds * (i + 1) / (len(humans) + 1)): call for i, call in enumerate(humans)}
    lines = 0
    for second in range(seconds):
        due: list[tuple[float, Call]] = []
        for period, phase, call in schedule:
            # Every start in [second, second+1) of the arithmetic series phase + k*period.
            k = max(0, int((second - phase) // period))
            start = phase + k * period
            while start < second + 1:
                if start >= second:
                    due.append((start, call))
                start += period
        if second in human_at:
            due.append((second + 0.5, human_at[second]))
        due.sort(key=lambda item: item[0])
        chunk = []
        for t, call in due:
            for ev in events_of(call, t, rng):
                chunk.append(orjson.dumps(ev))
        if chunk:
            out.write(b"\n".join(chunk) + b"\n")
            lines += len(chunk)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with args.out.open("wb") as handle:
        print(generate(handle, args.seconds, args.nodes, args.seed), "lines")


if __name__ == "__main__":
    main()
