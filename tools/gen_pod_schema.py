"""Regenerate kauditcfg/data/pod_schema.json from the official kubernetes client's models.

`check` looks for unknown Pod fields (a `readOlny: true` the kubelet drops silently). Importing
the client's models costs seconds on a busy node, so the field table of every model a Pod can
hold is precomputed here: {model: {jsonKey: type}}, types as the client writes them
(`List[V1Volume]`, `Dict[str, str]`, `V1ObjectMeta`, `str`).

    .venv/bin/python tools/gen_pod_schema.py > kauditcfg/data/pod_schema.json
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any


def pod_schema() -> dict[str, Any]:
    from kubernetes import __version__
    from kubernetes.client import models

    table: dict[str, dict[str, str]] = {}
    pending = ["V1Pod"]
    while pending:
        name = pending.pop()
        cls = getattr(models, name, None)
        if name in table or cls is None or not hasattr(cls, "openapi_types"):
            continue
        fields = {cls.attribute_map[attr]: kind for attr, kind in cls.openapi_types.items()}
        table[name] = dict(sorted(fields.items()))
        pending.extend(re.findall(r"\b[A-Z]\w+", " ".join(fields.values())))
    known = {n for n in table}
    return {"kubernetes_client": __version__, "models": {n: table[n] for n in sorted(known)}}


if __name__ == "__main__":
    json.dump(pod_schema(), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
