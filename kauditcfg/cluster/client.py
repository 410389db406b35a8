"""The Kubernetes API through the official client, loaded lazily, with errors as one clear line.

Only the commands that talk to a cluster import this module: the client takes a noticeable time to
import, and `kauditcfg --help`, `diff` and `enable` without `--wait` must not pay for it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from kauditcfg import __version__
from kauditcfg.errors import EXIT_IO, InvalidInput, KauditError, UsageError

DEFAULT_KUBECONFIG = "/etc/kubernetes/admin.conf"
EXIT_CLUSTER = EXIT_IO  # the cluster could not be read or written: nothing was changed (as an I/O failure)
TIMEOUT = 10.0  # seconds for one request: a hung connection must not outlast --timeout


class ClusterError(KauditError):
    """The API was unreachable, refused the credentials or the request (exit 6, nothing changed)."""

    exit_code = EXIT_CLUSTER


class Conflict(Exception):
    """409: the object changed since it was read (optimistic concurrency on resourceVersion)."""


class NotFound(Exception):
    """404 from the API."""


@dataclass
class Cluster:
    """An API client for one kubeconfig; every call returns plain JSON (dicts), never models."""

    api: Any  # kubernetes.client.ApiClient
    server: str
    kubeconfig: str

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            yield
        except ApiException as exc:
            self._raise_for(int(exc.status or 0), str(exc.reason or ""), exc.body, what)
        except (HTTPError, OSError) as exc:
            raise ClusterError(
                f"{self.server}: cannot reach the Kubernetes API ({_reason(exc)}) while reading {what}; "
                f"is kube-apiserver running, and is the server in {self.kubeconfig} right?"
            ) from None

    def _raise_for(self, status: int, reason: str, body: Any, what: str) -> None:
        if status == 404:
            raise NotFound(what)
        if status == 409:
            raise Conflict(what)
        message = ""
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            message = str(json.loads(body).get("message", ""))
        if status == 0:  # the client's own code for TLS failures
            raise ClusterError(f"{self.server}: TLS failure while reading {what}: {reason.splitlines()[-1]}")
        if status == 401:
            raise ClusterError(
                f"{self.kubeconfig}: the API at {self.server} refused its credentials (401 Unauthorized)"
            )
        if status == 403:
            raise ClusterError(
                f"{self.server}: forbidden (403) to access {what}: {message or reason}; use a kubeconfig "
                f"allowed to (kubeadm's {DEFAULT_KUBECONFIG})"
            )
        raise ClusterError(f"{self.server}: {status} {reason} for {what}{': ' + message if message else ''}")

    def send(
        self,
        method: str,
        path: str,
        what: str,
        body: Any = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, str]:
        """One API call through the client's REST layer (its TLS, auth and proxy settings): the
        status, reason and body. The typed API classes are avoided: their call signatures differ
        between client releases, and the bodies are wanted as plain JSON."""
        configuration = self.api.configuration
        all_headers = {"Accept": "application/json, */*", "User-Agent": self.api.user_agent}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        for auth in configuration.auth_settings().values():
            if auth.get("in") == "header" and auth.get("value"):
                all_headers[auth["key"]] = auth["value"]
        all_headers.update(headers or {})
        url = configuration.host.rstrip("/") + path + ("?" + urlencode(query) if query else "")
        with self._errors(what):
            response = self.api.rest_client.request(
                method, url, headers=all_headers, body=body, _request_timeout=TIMEOUT
            )
            raw = getattr(response, "data", None)
            if raw is None:
                raw = response.read()
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
        return int(response.status), str(response.reason or ""), text

    def request(
        self,
        method: str,
        path: str,
        what: str,
        body: Any = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """An API call that must succeed: JSON bodies decoded, text returned as str."""
        status, reason, text = self.send(method, path, what, body, query, headers)
        if not 200 <= status <= 299:
            self._raise_for(status, reason, text, what)
        try:
            return json.loads(text)
        except ValueError:
            return text

    # the few endpoints kauditcfg uses
    def get_configmap(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(
            self.request(
                "GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}", f"ConfigMap {namespace}/{name}"
            )
        )

    def replace_configmap(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(
            self.request(
                "PUT",
                f"/api/v1/namespaces/{namespace}/configmaps/{name}",
                f"ConfigMap {namespace}/{name}",
                body=body,
            )
        )

    def list_pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        result = self.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods",
            f"pods in {namespace}",
            query={"labelSelector": label_selector},
        )
        return list(result.get("items") or []) if isinstance(result, dict) else []

    def get_pod(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(
            self.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}", f"pod {namespace}/{name}")
        )

    def pod_log(self, namespace: str, name: str, container: str, tail: int) -> str:
        text = self.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods/{name}/log",
            f"the log of {name}",
            query={"container": container, "tailLines": str(tail)},
        )
        return text if isinstance(text, str) else json.dumps(text)

    def readyz(self) -> tuple[bool, str]:
        """kube-apiserver's own readiness (GET /readyz): ok, or the body naming the failing checks."""
        try:
            status, reason, body = self.send("GET", "/readyz", "/readyz")
        except (ClusterError, NotFound, Conflict) as exc:
            return False, str(exc)
        body = body.strip() or f"{status} {reason}"
        return status == 200 and body == "ok", body


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    text = str(inner if inner is not None else exc)
    for marker in (
        "Connection refused",
        "timed out",
        "Name or service not known",
        "certificate verify failed",
    ):
        if marker in text:
            return marker.lower()
    return text.split(": ", 1)[-1][:160] or type(exc).__name__


def connect(kubeconfig: str | Path) -> Cluster:
    """A client for `kubeconfig`; UsageError when there is none, InvalidInput when it is unusable."""
    path = Path(kubeconfig)
    if not path.is_file():
        raise UsageError(
            f"{kubeconfig}: no such kubeconfig; pass --kubeconfig (kubeadm writes {DEFAULT_KUBECONFIG})"
        )
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(path), client_configuration=configuration, persist_config=False
        )
    except (ConfigException, ValueError, TypeError, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(f"{kubeconfig}: not a usable kubeconfig ({detail})") from None
    configuration.retries = 1  # a refused connection is reported at once, not after urllib3's retries
    api = client.ApiClient(configuration)
    api.user_agent = f"kauditcfg/{__version__}"
    return Cluster(api=api, server=str(configuration.host), kubeconfig=str(kubeconfig))
