"""The resource attributes kube-apiserver evaluated the policy with, parsed from the request URL.

kube-apiserver decides the audit level from RequestInfo, which comes from the URL alone
(RequestInfoFactory.NewRequestInfo, k8s.io/apiserver/pkg/endpoints/request/requestinfo.go),
before the body is decoded. `audit.LogRequestObject` (k8s.io/apiserver/pkg/audit/request.go)
later fills an empty `objectRef.name`/`namespace` from the body, so a `create` shows a name in
the log that the policy never saw: only the URL tells what the policy matched. kube-apiserver
serves the grouped prefix `/apis/{group}/{version}` and the groupless `/api/{version}`.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import parse_qsl, unquote

_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


class UrlInfo(NamedTuple):
    api_group: str
    api_version: str
    namespace: str
    resource: str
    subresource: str
    name: str
    # The name a `?fieldSelector=metadata.name=X` selects; RequestInfo uses it for list and watch
    # (a GET without a name in the path) only: kubernetes/kubernetes#63469, Kubernetes 1.11.
    selected: str = ""

    def name_for(self, verb: str | None) -> str:
        return self.name or (self.selected if verb in ("list", "watch") else "")


def _exact_name(selector: str) -> str:
    """fields.Selector.RequiresExactMatch("metadata.name") on a fieldSelector query value."""
    terms: list[str] = []
    current: list[str] = []
    escaped = False
    for char in selector:  # terms are split on unescaped commas (fields.parseSelector)
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    for term in terms:
        if "!=" in term:
            continue
        field, sep, value = term.partition("==") if "==" in term else term.partition("=")
        if sep and field.strip() == "metadata.name":
            value = value.replace("\\,", ",").replace("\\=", "=").replace("\\\\", "\\")
            # requestinfo.go keeps it only when it is a valid path segment name.
            if value not in (".", "..") and "/" not in value and "%" not in value:
                return value
            return ""
    return ""


def parse_request_uri(uri: str) -> UrlInfo | None:
    """RequestInfo of `uri`; None for a non-resource request."""
    path, _, query = uri.partition("?")
    if "%" in path:
        path = unquote(path)  # RequestInfo reads req.URL.Path, the unescaped path
    parts = path.strip("/").split("/")
    if len(parts) < 3:
        return None
    if parts[0] == "api":
        group, rest = "", parts[1:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, rest = parts[1], parts[2:]
    else:
        return None
    version, rest = rest[0], rest[1:]
    special = ""
    if rest[0] in _SPECIAL_VERBS:
        if len(rest) < 2:
            return UrlInfo(group, version, "", "", "", "")
        special, rest = rest[0], rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    count = len(rest)
    subresource = rest[2] if count >= 3 and special != "proxy" else ""
    name = rest[1] if count >= 2 else ""
    selected = ""
    if not name and not special and "fieldSelector" in query:
        for key, value in parse_qsl(query):
            if key == "fieldSelector":
                selected = _exact_name(value)
                break
    return UrlInfo(group, version, namespace, rest[0], subresource, name, selected)


def canonical_path(
    group: str, version: str, namespace: str, resource: str, name: str, sub: str
) -> str | None:
    """The URL path RequestInfo parses back into exactly these attributes (None: no such path).

    Checking an event's URL against the path its objectRef implies is much cheaper than parsing
    it, and in kube-apiserver's own logs the two agree except for creates (no name in the URL).
    """
    if (
        not version
        or not resource
        or (sub and not name)
        or "/" in group + version + namespace + resource + name + sub
    ):
        return None
    if resource in _SPECIAL_VERBS or resource in _NAMESPACE_SUBRESOURCES:
        return None
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    tail = f"/{name}/{sub}" if sub else (f"/{name}" if name else "")
    if resource == "namespaces":  # /namespaces/NAME: the namespace is the name
        return f"{base}/namespaces{tail}" if namespace == name else None
    if namespace:
        return f"{base}/namespaces/{namespace}/{resource}{tail}"
    return f"{base}/{resource}{tail}"
