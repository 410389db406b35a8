"""Profiles: a policy template under templates/profiles/ plus parameter and flag defaults.

Rendering is pure: values in, policy text out. Every value reaches YAML through the `q`/`qlist`
filters (JSON strings are valid YAML double-quoted scalars), so a namespace or user name can never
change the policy's structure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from kauditcfg.errors import InvalidInput, UsageError
from kauditcfg.versions import Version, supports_omit_managed_fields

CIS_ROTATION = {"audit-log-maxage": "30", "audit-log-maxbackup": "10", "audit-log-maxsize": "100"}


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    template: str
    parameters: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)


PROFILES: dict[str, Profile] = {
    "cks": Profile(
        name="cks",
        description=(
            "CKS-study policy: drops kube-system reads and kube-proxy noise, Secrets/ConfigMaps/"
            "TokenReviews at Metadata, exec/attach/token requests at RequestResponse, writes at Request"
        ),
        template="profiles/cks.yaml.j2",
        parameters={
            "silence_namespaces": ["kube-system"],
            "silence_users": ["system:kube-proxy", "system:node-problem-detector"],
            "sensitive_extra": [],
            "write_level": "Request",
            "omit_managed_fields": True,
        },
        flags=dict(CIS_ROTATION),
    ),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise UsageError(f"unknown profile {name!r}; choose one of: {known}") from None


def templates_dir() -> Path:
    """Templates ship inside the wheel as kauditcfg/templates; a source checkout has them at top level."""
    packaged = Path(str(resources.files("kauditcfg"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


def _q(value: Any) -> str:
    return json.dumps(str(value), ensure_ascii=False)


def _qlist(values: Any) -> str:
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        values = [values]
    return "[" + ", ".join(_q(v) for v in values) + "]"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # YAML, not HTML: quoting is done by the q/qlist filters
    )
    env.filters["q"] = _q
    env.filters["qlist"] = _qlist
    return env


def render_policy(profile: Profile, values: dict[str, Any] | None, version: Version) -> str:
    params = dict(profile.parameters)
    for key, value in (values or {}).items():
        if key not in params:
            known = ", ".join(sorted(params))
            raise InvalidInput(f"profile {profile.name}: unknown parameter {key!r}; known: {known}")
        params[key] = value
    params["omit_managed_fields"] = bool(params.get("omit_managed_fields")) and supports_omit_managed_fields(
        version
    )
    try:
        return environment().get_template(profile.template).render(**params, kubernetes_version=version)
    except jinja2.TemplateError as exc:
        raise InvalidInput(f"profile {profile.name}: cannot render {profile.template}: {exc}") from None
