"""How well the candidate's log would compress: a sample of the captured lines, rewritten as the
candidate would write them (levels, stages, managedFields), gzipped at level 6 - the level
kube-apiserver's log rotation (lumberjack, --audit-log-compress) uses through compress/gzip's default.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson

from kauditcfg.policy.evaluate import Evaluator
from kauditcfg.policy.model import Decision, Policy, Request


def _request_of_dict(ev: dict[str, Any]) -> Request:
    user = ev.get("user") or {}
    name = user.get("username")
    groups = tuple(user.get("groups") or ())
    ref = ev.get("objectRef")
    if not isinstance(ref, dict):
        return Request(
            verb=ev.get("verb", ""),
            user=name,
            groups=groups,
            is_resource=False,
            path=str(ev.get("requestURI", "")).split("?", 1)[0],
        )
    return Request(
        verb=ev.get("verb", ""),
        user=name,
        groups=groups,
        namespace=ref.get("namespace", ""),
        api_group=ref.get("apiGroup", ""),
        resource=ref.get("resource", ""),
        subresource=ref.get("subresource", ""),
        name=ref.get("name", ""),
    )


def strip_managed_fields(body: Any) -> None:
    if not isinstance(body, dict):
        return
    meta = body.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    for item in body.get("items") or ():
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict):
            item["metadata"].pop("managedFields", None)


def rewrite(ev: dict[str, Any], d: Decision) -> bytes | None:
    """The line the candidate would write for a captured event (None: not written)."""
    if d.level == "None" or ev.get("stage") in d.omit_stages:
        return None
    ev["level"] = d.level
    if d.level == "Metadata":
        ev.pop("requestObject", None)
    if d.level != "RequestResponse":
        ev.pop("responseObject", None)
    if d.omit_managed_fields:
        strip_managed_fields(ev.get("requestObject"))
        strip_managed_fields(ev.get("responseObject"))
    return orjson.dumps(ev)


def gzip_ratio(samples: list[bytes], policy: Policy) -> float:
    """Compressed/raw size of the sampled lines as the candidate would write them (gzip level 6)."""
    evaluator = Evaluator(policy)
    out: list[bytes] = []
    for line in samples:
        try:
            ev = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(ev, dict):
            kept = rewrite(ev, evaluator.evaluate(_request_of_dict(ev)))
            if kept is not None:
                out.append(kept)
    data = b"\n".join(out) + b"\n"
    if len(data) < 2:
        return 1.0
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    return len(packer.compress(data) + packer.flush()) / len(data)
