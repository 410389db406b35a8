"""A small Kubernetes API on 127.0.0.1 for the tests: the few endpoints kauditcfg uses, with realistic
JSON, and a fake kubelet that follows the sandbox's static pod manifest.

- ConfigMap kube-system/kubeadm-config: GET, and PUT with resourceVersion checks (409 on a stale one;
  `conflicts` injects writes by "someone else" between kauditcfg's GET and PUT).
- Pods in kube-system (list by label, get by name, log): the kube-apiserver mirror pod carries the
  annotations of the manifest on disk, after `restart_polls` looks (the kubelet noticing the change
  and restarting the container); a manifest containing `crash_if` crash-loops.
- GET /readyz: "ok" while the mirror pod is ready.
- GET /api/v1/namespaces/NAME: 404, and an audit event appended to `audit_log` (as kube-apiserver
  would write it) when audit logging is on.
Every request needs the bearer token of the kubeconfig it writes; `forbidden` answers 403.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

TOKEN = "kauditcfg-test-token-0123456789"
NODE = "cp-1"
MANIFEST = "etc/kubernetes/manifests/kube-apiserver.yaml"
HASH_RE = re.compile(r'kauditcfg\.io/config-hash: "?([^"\s]+)"?')


def status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeCluster:
    def __init__(self, root: Path | None = None, cluster_configuration: str = "") -> None:
        self.root = root
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.forbidden = False
        self.conflicts = 0  # PUTs answered 409 after a concurrent write
        self.resource_version = 1000
        self.configmap: dict[str, Any] = {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {
                "name": "kubeadm-config",
                "namespace": "kube-system",
                "uid": "5b0c4f6e-2f5c-4f7e-9a49-0d0c2b3c1a11",
                "resourceVersion": str(self.resource_version),
                "creationTimestamp": "2026-03-02T09:14:55Z",
                "managedFields": [
                    {
                        "manager": "kubeadm",
                        "operation": "Update",
                        "apiVersion": "v1",
                        "time": "2026-03-02T09:14:55Z",
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:data": {".": {}, "f:ClusterConfiguration": {}}},
                    }
                ],
            },
            "data": {"ClusterConfiguration": cluster_configuration},
        }
        # the fake kubelet
        self.restart_polls = 0
        self.crash_if: str | None = None
        self.pod_hash: str | None = None
        self.kubelet_hash = ""
        self.pending: tuple[str | None, str, int] | None = None  # (hash, kubelet hash, looks left)
        self.restarts = 0
        self.crashing = False
        # audit logging
        self.audit_log: Path | None = None
        self.audit_level = "Metadata"
        self.log_lines = [
            "I1125 16:02:11.118253       1 options.go:221] external host was not specified, using 10.10.40.2",
            'E1125 16:02:11.419710       1 run.go:72] "command failed" err="loading audit policy file: '
            'failed to read file path \\"/etc/kubernetes/audit/policy.yaml\\": permission denied"',
        ]
        self._sync_kubelet(initial=True)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeCluster:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self, directory: Path) -> Path:
        path = directory / "admin.conf"
        path.write_text(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: "
            + self.url
            + "\n  name: fake\n"
            "contexts:\n- context:\n    cluster: fake\n    user: kubernetes-admin\n  name: admin@fake\n"
            "current-context: admin@fake\npreferences: {}\nusers:\n- name: kubernetes-admin\n  user:\n"
            f"    token: {TOKEN}\n"
        )
        return path

    # -- the fake kubelet -------------------------------------------------------------------

    def _manifest(self) -> str:
        if self.root is None:
            return ""
        path = self.root / MANIFEST
        return path.read_text() if path.exists() else ""

    def _sync_kubelet(self, initial: bool = False, step: bool = True) -> None:
        """Follow the manifest; `step`: a look at the pod, which counts towards `restart_polls`."""
        text = self._manifest()
        match = HASH_RE.search(text)
        want = match.group(1) if match else None
        kubelet_hash = hashlib.md5(text.encode()).hexdigest()
        if initial:
            self.pod_hash, self.kubelet_hash = want, kubelet_hash
            self.crashing = bool(self.crash_if and self.crash_if in text)
            return
        if kubelet_hash == self.kubelet_hash:
            self.pending = None
            return
        if self.pending is None or self.pending[1] != kubelet_hash:
            self.pending = (want, kubelet_hash, self.restart_polls)
        hash_, khash, left = self.pending
        if not step:
            return
        if left > 0:
            self.pending = (hash_, khash, left - 1)
            return
        self.pod_hash, self.kubelet_hash, self.pending = hash_, khash, None
        self.crashing = bool(self.crash_if and self.crash_if in text)
        self.restarts = 0

    @property
    def ready(self) -> bool:
        return not self.crashing and self.pending is None

    def pod(self) -> dict[str, Any]:
        annotations = {
            "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": "10.10.40.21:6443",
            "kubernetes.io/config.hash": self.kubelet_hash,
            "kubernetes.io/config.mirror": self.kubelet_hash,
            "kubernetes.io/config.seen": "2026-11-25T16:02:09.114418371Z",
            "kubernetes.io/config.source": "file",
        }
        if self.pod_hash:
            annotations["kauditcfg.io/config-hash"] = self.pod_hash
        if self.crashing:
            self.restarts += 1
            state: dict[str, Any] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": "back-off 40s restarting failed container=kube-apiserver "
                    f"pod=kube-apiserver-{NODE}_kube-system({self.kubelet_hash})",
                }
            }
        else:
            state = {"running": {"startedAt": "2026-11-25T16:02:10Z"}}
        ready = "True" if self.ready else "False"
        return {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": f"kube-apiserver-{NODE}",
                "namespace": "kube-system",
                "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, self.kubelet_hash)),
                "resourceVersion": str(self.resource_version),
                "labels": {"component": "kube-apiserver", "tier": "control-plane"},
                "annotations": annotations,
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Node",
                        "name": NODE,
                        "uid": "8c1d0d2e-node",
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "nodeName": NODE,
                "hostNetwork": True,
                "priorityClassName": "system-node-critical",
                "containers": [{"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.30.4"}],
            },
            "status": {
                "phase": "Running",
                "conditions": [
                    {"type": "Initialized", "status": "True"},
                    {"type": "Ready", "status": ready},
                    {"type": "ContainersReady", "status": ready},
                    {"type": "PodScheduled", "status": "True"},
                ],
                "hostIP": "10.10.40.21",
                "podIP": "10.10.40.21",
                "containerStatuses": [
                    {
                        "name": "kube-apiserver",
                        "state": state,
                        "ready": self.ready,
                        "restartCount": self.restarts,
                        "image": "registry.k8s.io/kube-apiserver:v1.30.4",
                        "started": not self.crashing,
                    }
                ],
            },
        }

    # -- audit -------------------------------------------------------------------------------

    def _audit(self, path: str, user_agent: str) -> None:
        if self.audit_log is None:
            return
        name = path.rsplit("/", 1)[-1]
        event = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": self.audit_level,
            "auditID": str(uuid.uuid4()),
            "stage": "ResponseComplete",
            "requestURI": path,
            "verb": "get",
            "user": {
                "username": "kubernetes-admin",
                "groups": ["kubeadm:cluster-admins", "system:authenticated"],
            },
            "sourceIPs": ["127.0.0.1"],
            "userAgent": user_agent,
            "objectRef": {"resource": "namespaces", "namespace": name, "name": name, "apiVersion": "v1"},
            "responseStatus": {"metadata": {}, "status": "Failure", "reason": "NotFound", "code": 404},
            "requestReceivedTimestamp": now(),
            "stageTimestamp": now(),
            "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""},
        }
        self.audit_log.parent.mkdir(parents=True, exist_ok=True)
        with self.audit_log.open("a") as handle:
            handle.write(json.dumps(event, separators=(",", ":")) + "\n")

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, Any]:
        url = urlparse(raw_path)
        path, query = url.path, parse_qs(url.query)
        with self.lock:
            self.requests.append((method, path))
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, status(401, "Unauthorized", "Unauthorized")
            if self.forbidden:
                return 403, status(
                    403,
                    "Forbidden",
                    f'configmaps "kubeadm-config" is forbidden: User "system:serviceaccount:ci:deployer" '
                    f"cannot {method.lower()} resource at {path}",
                )
            self._sync_kubelet(step=path.startswith("/api/v1/namespaces/kube-system/pods"))
            if path == "/readyz":
                return (200, "ok") if self.ready else (500, "[+]ping ok\n[-]etcd failed: reason withheld\n")
            cm = "/api/v1/namespaces/kube-system/configmaps/kubeadm-config"
            if path == cm and method == "GET":
                return 200, self.configmap
            if path == cm and method == "PUT":
                return self._put_configmap(json.loads(body))
            if path == "/api/v1/namespaces/kube-system/pods":
                selector = query.get("labelSelector", [""])[0]
                items = [self.pod()] if selector in ("", "component=kube-apiserver") else []
                return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
            if path == f"/api/v1/namespaces/kube-system/pods/kube-apiserver-{NODE}":
                return 200, self.pod()
            if path == f"/api/v1/namespaces/kube-system/pods/kube-apiserver-{NODE}/log":
                return 200, "\n".join(self.log_lines) + "\n"
            match = re.fullmatch(r"/api/v1/namespaces/([^/]+)", path)
            if match and method == "GET":
                self._audit(path, headers.get("User-Agent", ""))
                name = match.group(1)
                return 404, status(
                    404, "NotFound", f'namespaces "{name}" not found', name=name, kind="namespaces"
                )
            return 404, status(404, "NotFound", "the server could not find the requested resource")

    def _put_configmap(self, body: dict[str, Any]) -> tuple[int, Any]:
        sent = (body.get("metadata") or {}).get("resourceVersion")
        if self.conflicts > 0:
            # someone else writes first: a new resourceVersion and a label of theirs
            self.conflicts -= 1
            self.resource_version += 7
            self.configmap["metadata"]["resourceVersion"] = str(self.resource_version)
            self.configmap["metadata"].setdefault("labels", {})["touched-by"] = "someone-else"
        if sent != self.configmap["metadata"]["resourceVersion"]:
            return 409, status(
                409,
                "Conflict",
                'Operation cannot be fulfilled on configmaps "kubeadm-config": the object has been modified; '
                "please apply your changes to the latest version and try again",
                name="kubeadm-config",
                kind="configmaps",
            )
        self.resource_version += 1
        body["metadata"]["resourceVersion"] = str(self.resource_version)
        self.configmap = body
        return 200, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                code, payload = fake.handle(self.command, self.path, self.headers, body)
                is_text = isinstance(payload, str)
                data = payload.encode() if is_text else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header(
                    "Content-Type", "text/plain; charset=utf-8" if is_text else "application/json"
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
