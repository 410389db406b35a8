"""The `--audit-*` flags each kube-apiserver version knows, and whether a value would parse.

kube-apiserver treats an unknown flag or a value that does not parse as fatal: it prints its whole
usage text and exits, which buries the one line that matters (kubernetes/apiserver#42). The table
lives in `kauditcfg/data/apiserver_audit_flags.json`, derived from kube-apiserver --help of each
release (k8s.io/apiserver/pkg/server/options/audit.go).

Names are handled without the leading dashes (`audit-log-path`), as `Flag.name` stores them;
functions accept either form and answer in the form they were given.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kauditcfg.versions import NEWEST, OLDEST, Version, format_version


@dataclass(frozen=True)
class AuditFlagSpec:
    name: str  # without dashes
    type: str  # string | int | bool | duration | float
    since: Version | None  # None: present in every supported release
    until: Version | None  # last release that has it; None: still present
    backend: str
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    deprecated: str | None = None

    def exists_in(self, version: Version) -> bool:
        # Releases older than the table's first row are not covered: believe what the manifest says.
        if self.since is not None and version >= OLDEST and version < self.since:
            return False
        return not (self.until is not None and version > self.until)


def _version(text: Any) -> Version | None:
    if text is None:
        return None
    major, minor = str(text).split(".")
    return int(major), int(minor)


@cache
def _table() -> tuple[dict[str, AuditFlagSpec], Version]:
    raw = json.loads(resources.files("kauditcfg").joinpath("data/apiserver_audit_flags.json").read_text())
    specs: dict[str, AuditFlagSpec] = {}
    for entry in raw["flags"]:
        spec = AuditFlagSpec(
            name=entry["name"],
            type=entry["type"],
            since=_version(entry.get("since")),
            until=_version(entry.get("until")),
            backend=entry.get("backend", ""),
            description=entry.get("description", ""),
            choices=tuple(entry.get("choices") or ()),
            minimum=entry.get("minimum"),
            deprecated=entry.get("deprecated"),
        )
        specs[spec.name] = spec
    removed = _version(raw.get("removed_event_versions_since")) or (1, 24)
    return specs, removed


def flag_specs() -> dict[str, AuditFlagSpec]:
    return _table()[0]


def _clamp(version: Version) -> Version:
    # A release newer than the table is judged as the newest one we know.
    return min(version, NEWEST)


def _bare(name: str) -> str:
    return name.lstrip("-")


def known_audit_flags(version: Version) -> set[str]:
    """Names (without dashes) of the `--audit-*` flags kube-apiserver `version` accepts."""
    version = _clamp(version)
    return {name for name, spec in flag_specs().items() if spec.exists_in(version)}


def unknown_audit_flags(names: list[str], version: Version) -> list[tuple[str, str | None]]:
    """Each `--audit-*` name kube-apiserver `version` would reject, with the closest known name.

    Names that do not start with `audit-` are not judged. The suggestion keeps the dashes the
    name was given with.
    """
    known = known_audit_flags(version)
    every = set(flag_specs())
    out: list[tuple[str, str | None]] = []
    for name in names:
        bare = _bare(name)
        if not bare.startswith("audit-") or bare in known:
            continue
        dashes = name[: len(name) - len(bare)]
        pool = sorted(known)
        # A flag of another release (compress before 1.20) is its own best explanation.
        close = difflib.get_close_matches(bare, pool, n=1, cutoff=0.7)
        suggestion = close[0] if close and bare not in every else None
        out.append((name, dashes + suggestion if suggestion else None))
    return out


def unknown_reason(name: str, version: Version) -> str:
    """Why `name` is unknown to `version`: another release's flag, or simply not a flag."""
    spec = flag_specs().get(_bare(name))
    if spec is None:
        return "kube-apiserver has no such flag"
    if spec.since is not None and _clamp(version) < spec.since:
        return f"the flag arrived in Kubernetes {format_version(spec.since)}"
    if spec.until is not None:
        return f"the flag was removed after Kubernetes {format_version(spec.until)}"
    return "kube-apiserver has no such flag"


_DURATION = re.compile(r"[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+")
_GO_BOOLS = {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}


def value_problem(name: str, value: str | None, version: Version) -> str | None:
    """Why kube-apiserver would refuse this value (it then exits), or None when it parses.

    `value` None means the flag was written without a value: fine for a bool, fatal otherwise.
    """
    spec = flag_specs().get(_bare(name))
    if spec is None:
        return None
    if value is None:
        return None if spec.type == "bool" else f"needs a value ({spec.type})"
    text = value.strip()
    if spec.type == "bool":
        return None if text in _GO_BOOLS else f"{value!r} is not a boolean (true or false)"
    if spec.type == "int":
        if not re.fullmatch(r"[-+]?\d+", text):
            return f"{value!r} is not an integer"
        if spec.minimum is not None and int(text) < spec.minimum:
            return f"{value!r} is negative"
        return None
    if spec.type == "float":
        try:
            number = float(text)
        except ValueError:
            return f"{value!r} is not a number"
        return None if math.isfinite(number) else f"{value!r} is not a finite number"
    if spec.type == "duration":
        if text == "0" or _DURATION.fullmatch(text):
            return None
        return f"{value!r} is not a duration such as 30s or 1m"
    if spec.choices:
        choices = spec.choices
        removed = _table()[1]
        if name.endswith("-version") and _clamp(version) >= removed:
            choices = tuple(c for c in choices if c.endswith("/v1"))
        if text not in choices:
            return f"{value!r} is not one of {', '.join(choices)}"
    return None
