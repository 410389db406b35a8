"""Write a realistic synthetic kube-apiserver audit log (JSON lines, ~1 KB per event on average).

The mix resembles a real cluster: controllers and kubelets dominate (leases, status updates,
watches), people run kubectl (including exec and secret reads), and health/metrics probes hit
non-resource URLs. Write requests carry bodies with managedFields, as kube-apiserver logs them.
"""

from __future__ import annotations

import argparse
import random
import uuid
from pathlib import Path
from typing import Any

import orjson

NODES = [f"node-{i}" for i in range(20)]
NAMESPACES = ["default", "kube-system", "prod", "staging", "monitoring", "ingress-nginx"]
CONTROLLERS = [
    "system:kube-controller-manager",
    "system:kube-scheduler",
    "system:serviceaccount:kube-system:replicaset-controller",
    "system:serviceaccount:kube-system:endpointslice-controller",
    "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:monitoring:prometheus",
]
PEOPLE = ["alice", "bob", "kubernetes-admin", "ci-deployer"]


def _managed_fields(manager: object, rng: random.Random) -> list[dict[str, object]]:
    return [
        {
            "manager": manager,
            "operation": "Update",
            "apiVersion": "v1",
            "time": "2025-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {f"f:k{j}": {} for j in range(rng.randint(4, 12))}}},
        }
    ]


def _request_uri(verb: str, ref: dict[str, str]) -> str:
    """The URL kube-apiserver logs: the policy matched what RequestInfo parsed from it. A create
    posts to the collection (objectRef.name comes from the body afterwards); list/watch have none."""
    group = ref.get("apiGroup", "")
    path = f"/apis/{group}/v1" if group else "/api/v1"
    if ref.get("namespace"):
        path += f"/namespaces/{ref['namespace']}"
    path += f"/{ref['resource']}"
    sub = ref.get("subresource", "")
    if ref.get("name") and (verb != "create" or sub):
        path += f"/{ref['name']}" + (f"/{sub}" if sub else "")
    if verb == "watch":
        return path + "?allowWatchBookmarks=true&resourceVersion=1234&watch=true"
    return path + "?limit=500" if verb == "list" else path


def _event(rng: random.Random, i: int) -> dict[str, object]:
    roll = rng.random()
    ev: dict[str, object] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": str(uuid.UUID(int=rng.getrandbits(128))),
        "stage": "ResponseComplete",
        "sourceIPs": [f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"],
        "userAgent": "kubectl/v1.30.0 (linux/amd64) kubernetes/abc",
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": "2025-01-01T00:00:00.000000Z",
        "stageTimestamp": "2025-01-01T00:00:00.010000Z",
        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC"},
    }
    if roll < 0.08:  # probes and discovery
        path = rng.choice(
            ["/healthz", "/livez", "/readyz?verbose", "/metrics", "/version", "/apis", "/openapi/v2"]
        )
        prober = rng.choice(["system:anonymous", "system:serviceaccount:monitoring:prometheus"])
        ev.update(verb="get", requestURI=path, user={"username": prober, "groups": ["system:authenticated"]})
        return ev
    if roll < 0.40:  # kubelets: node status, leases, pod status
        node = rng.choice(NODES)
        user: dict[str, Any] = {
            "username": f"system:node:{node}",
            "groups": ["system:nodes", "system:authenticated"],
        }
        kind = rng.choice(["lease", "nodestatus", "podstatus", "secretget"])
        if kind == "lease":
            ref: dict[str, str] = {"resource": "leases", "namespace": "kube-node-lease", "name": node,
                   "apiGroup": "coordination.k8s.io", "apiVersion": "v1"}  # fmt: skip
            verb = "update"
        elif kind == "nodestatus":
            ref = {"resource": "nodes", "subresource": "status", "name": node, "apiVersion": "v1"}
            verb = "patch"
        elif kind == "podstatus":
            ref = {"resource": "pods", "subresource": "status", "namespace": rng.choice(NAMESPACES),
                   "name": f"pod-{rng.randint(0, 5000)}", "apiVersion": "v1"}  # fmt: skip
            verb = "patch"
        else:
            ref = {"resource": "secrets", "namespace": rng.choice(NAMESPACES),
                   "name": f"secret-{rng.randint(0, 300)}", "apiVersion": "v1"}  # fmt: skip
            verb = "get"
    elif roll < 0.85:  # controllers
        user = {"username": rng.choice(CONTROLLERS), "groups": ["system:authenticated"]}
        resource, group = rng.choice(
            [("pods", ""), ("endpoints", ""), ("configmaps", ""), ("replicasets", "apps"),
             ("deployments", "apps"), ("endpointslices", "discovery.k8s.io"), ("events", "")]
        )  # fmt: skip
        verb = rng.choice(["get", "list", "watch", "watch", "update", "patch", "create", "delete"])
        ref = {
            "resource": resource,
            "namespace": rng.choice(NAMESPACES),
            "apiGroup": group,
            "apiVersion": "v1",
        }
        if verb not in ("list", "watch"):
            ref["name"] = f"{resource}-{rng.randint(0, 2000)}"
    else:  # people
        user = {"username": rng.choice(PEOPLE), "groups": ["system:authenticated"]}
        resource, sub = rng.choice([("pods", ""), ("pods", "exec"), ("pods", "log"), ("secrets", ""),
                                    ("deployments", ""), ("configmaps", ""), ("services", "")])  # fmt: skip
        verb = "create" if sub == "exec" else rng.choice(["get", "list", "create", "update", "delete"])
        ref = {"resource": resource, "namespace": rng.choice(NAMESPACES), "apiVersion": "v1",
               "name": f"{resource}-{rng.randint(0, 100)}"}  # fmt: skip
        if sub:
            ref["subresource"] = sub
    ns = ref.get("namespace")
    ev.update(verb=verb, user=user, objectRef=ref, requestURI=_request_uri(verb, ref))
    if verb in ("update", "patch", "create"):
        ev["requestObject"] = {
            "kind": "Object",
            "metadata": {
                "name": ref.get("name", ""),
                "namespace": ns,
                "labels": {"app": "web", "tier": "frontend"},
                "managedFields": _managed_fields(user["username"], rng),
            },
            "spec": {"replicas": rng.randint(1, 5)},
        }
    ev["stageTimestamp"] = f"2025-01-01T00:00:{i % 60:02d}.010000Z"
    return ev


def generate(path: Path, count: int, seed: int = 42) -> int:
    rng = random.Random(seed)
    size = 0
    with path.open("wb") as out:
        for i in range(count):
            line = orjson.dumps(_event(rng, i)) + b"\n"
            size += len(line)
            out.write(line)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    size = generate(args.path, args.events)
    print(f"{args.path}: {args.events} events, {size / args.events:.0f} bytes/event on average")


if __name__ == "__main__":
    main()
