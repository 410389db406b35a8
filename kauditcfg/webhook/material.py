"""The TLS material and token a webhook kubeconfig makes kube-apiserver read, judged on the node.

Shared by `enable`'s preflight (on the kubeconfig it is about to write) and by `check` (on the one
in place, hand-written ones included): both see the same findings in the same words.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kauditcfg.webhook.tls import Material, Role, TlsFinding, inline_material, judge_material

# The Material for (role, container path): named by its host path, data None when missing or unmounted.
Locate = Callable[[Role, str], Material]

_FIELDS: tuple[tuple[str, str, Role], ...] = (
    ("clusters", "cluster", "certificate-authority"),
    ("users", "user", "client-certificate"),
    ("users", "user", "client-key"),
    ("users", "user", "tokenFile"),
)


def _load(text: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except (YAMLError, ValueError):
        return None


def _entries(config: dict[str, Any], section: str, inner: str) -> list[tuple[int, dict[str, Any]]]:
    """The entries client-go would use: the current context's, or every one when none is chosen."""
    listed = [
        (i, e[inner])
        for i, e in enumerate(config.get(section) or [])
        if isinstance(e, dict) and isinstance(e.get(inner), dict)
    ]
    current = config.get("current-context")
    contexts = [c for c in config.get("contexts") or [] if isinstance(c, dict) and c.get("name") == current]
    context = contexts[0].get("context") if contexts else None
    if not isinstance(context, dict) or not context.get(inner):
        return listed
    named = [
        (i, e[inner])
        for i, e in enumerate(config.get(section) or [])
        if isinstance(e, dict) and e.get("name") == context[inner] and isinstance(e.get(inner), dict)
    ]
    return named or listed


def kubeconfig_material(
    text: str, kubeconfig: str, locate: Locate
) -> tuple[list[Material], list[TlsFinding]]:
    """Each CA, client certificate/key and token file the kubeconfig at `kubeconfig` names.

    client-go resolves a relative path against the kubeconfig's own directory; `*-data` fields
    hold the PEM inline (base64). Unparsable kubeconfigs yield nothing here: that is reported
    where the kubeconfig itself is judged.
    """
    config = _load(text)
    if not isinstance(config, dict):
        return [], []
    base = posixpath.dirname(posixpath.normpath(posixpath.join("/", kubeconfig)))
    materials: list[Material] = []
    findings: list[TlsFinding] = []
    for section, inner, role in _FIELDS:
        for index, body in _entries(config, section, inner):
            value = body.get(role)
            data_key = "token" if role == "tokenFile" else f"{role}-data"
            inline = body.get(data_key)
            if isinstance(value, str) and value:
                container = posixpath.normpath(posixpath.join(base, value))
                materials.append(locate(role, container))
            elif isinstance(inline, str) and inline and role != "tokenFile":
                where = f"{kubeconfig}: {section}[{index}].{inner}.{data_key}"
                got = inline_material(role, where, inline)
                if isinstance(got, TlsFinding):
                    findings.append(got)
                else:
                    materials.append(got)
    return materials, findings


def webhook_tls_findings(
    text: str, kubeconfig: str, locate: Locate, now: datetime | None = None
) -> list[TlsFinding]:
    """Everything wrong (errors) or soon wrong (warnings) with the kubeconfig's TLS material and token."""
    materials, findings = kubeconfig_material(text, kubeconfig, locate)
    return findings + judge_material(materials, now)
