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
from typing import TYPE_CHECKING, Any

from kauditcfg.config.defaults import LEVELS, cis_rotation_flags
from kauditcfg.errors import InvalidInput, UsageError
from kauditcfg.versions import Version, supports_omit_managed_fields
from kauditcfg.webhook.tuning import WEBHOOK_DEFAULTS

if TYPE_CHECKING:
    import jinja2


PARAMETER_HELP: dict[str, str] = {
    "silence_namespaces": "namespaces whose reads (get/list/watch) are not logged",
    "silence_users": "users whose requests are not logged at all",
    "sensitive_extra": (
        "extra resources kept at Metadata like Secrets, as resource[.group] (e.g. sealedsecrets.bitnami.com)"
    ),
    "write_level": "level for create/update/patch/delete: Metadata, Request or RequestResponse",
    "omit_managed_fields": "drop managedFields from logged bodies (Kubernetes 1.23 and later)",
}


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    template: str
    parameters: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)
    # --audit-webhook-* mode and batching written with --webhook-url (options override them).
    webhook_flags: dict[str, str] = field(default_factory=lambda: dict(WEBHOOK_DEFAULTS))
    # Levels write_level may take; cis cannot take None (C-0161 forbids None for pods/deployments).
    write_levels: tuple[str, ...] = LEVELS


def _noise_and_writes() -> dict[str, Any]:
    """The parameters cks and cis share: what to silence, what else is sensitive, the write level."""
    return {
        "silence_namespaces": ["kube-system"],
        "silence_users": ["system:kube-proxy", "system:node-problem-detector"],
        "sensitive_extra": [],
        "write_level": "Request",
        "omit_managed_fields": True,
    }


PROFILES: dict[str, Profile] = {
    "cks": Profile(
        name="cks",
        description=(
            "CKS-study policy: drops kube-system reads and kube-proxy noise, Secrets/ConfigMaps/"
            "TokenReviews at Metadata, exec/attach/token requests at RequestResponse, writes at Request"
        ),
        template="profiles/cks.yaml.j2",
        parameters=_noise_and_writes(),
        flags=cis_rotation_flags(),
    ),
    "cis": Profile(
        name="cis",
        description=(
            "Passes CIS 3.2.1/3.2.2 and kubescape C-0161: the nine resources it checks named "
            "explicitly, Secrets/ConfigMaps/TokenReviews at exactly Metadata, exec/attach/portforward "
            "at RequestResponse, writes at Request; rotation 30 days/10 files/100 MB"
        ),
        template="profiles/cis.yaml.j2",
        parameters=_noise_and_writes(),
        flags=cis_rotation_flags(),
        write_levels=LEVELS[1:],
    ),
    "production": Profile(
        name="production",
        description=(
            "The Kubernetes GCE reference policy as audit.k8s.io/v1: drops known noise, Request for "
            "reads of known API groups, RequestResponse for their changes, Metadata for the rest"
        ),
        template="profiles/production.yaml.j2",
        parameters={
            "silence_namespaces": [],
            "silence_users": [],
            "sensitive_extra": [],
            "write_level": "RequestResponse",
            "omit_managed_fields": True,
        },
        flags=cis_rotation_flags(),
    ),
    "minimal": Profile(
        name="minimal",
        description="Metadata for every request, RequestReceived omitted: who did what, never a body",
        template="profiles/minimal.yaml.j2",
        parameters={"silence_namespaces": [], "silence_users": []},
        flags=cis_rotation_flags(),
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
    import jinja2  # only rendering needs it; `policy explain` starts faster without it

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # YAML, not HTML: quoting is done by the q/qlist filters
    )
    env.filters["q"] = _q
    env.filters["qlist"] = _qlist
    return env


def _flow_yaml(text: str, what: str) -> Any:
    from ruamel.yaml import YAML  # only --set/--values need a parser; `profiles list` starts without it
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise InvalidInput(f"{what}: not valid YAML: {exc}") from None


def parse_set_values(pairs: list[str], values_file_text: str | None) -> dict[str, Any]:
    """Helm-like values: the --values file (a YAML mapping), then each --set key=value over it.

    A --set value stays a string unless written as a YAML flow list or mapping (`[a, b]`); the
    profile coerces strings to its parameter types ("a,b" to a list, "false" to a boolean).
    """
    values: dict[str, Any] = {}
    if values_file_text is not None:
        loaded = _flow_yaml(values_file_text, "--values")
        if loaded is not None and not isinstance(loaded, dict):
            raise InvalidInput("--values: expected a YAML mapping of parameter: value")
        values.update({str(k): v for k, v in (loaded or {}).items()})
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set {pair!r}: expected key=value")
        stripped = raw.strip()
        values[key] = _flow_yaml(stripped, f"--set {key}") if stripped[:1] in ("[", "{") else raw
    return values


def _as_list(key: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list | tuple):
        return list(value)
    raise InvalidInput(f"parameter {key}: expected a list (comma-separated or [a, b]), got {value!r}")


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0", ""):
        return False
    raise InvalidInput(f"parameter {key}: expected true or false, got {value!r}")


def _sensitive_groups(value: list[Any]) -> list[tuple[str, list[str]]]:
    """`resource[.group]` strings or {group, resources} mappings, grouped by API group."""
    groups: dict[str, list[str]] = {}
    for item in value:
        if isinstance(item, dict):
            resources_ = _as_list("sensitive_extra.resources", item.get("resources"))
            groups.setdefault(str(item.get("group") or ""), []).extend(str(r) for r in resources_)
        elif isinstance(item, str) and item.strip():
            resource, _, group = item.strip().partition(".")
            groups.setdefault(group, []).append(resource)
        else:
            raise InvalidInput(f"parameter sensitive_extra: expected resource[.group], got {item!r}")
    return [(group, list(dict.fromkeys(names))) for group, names in groups.items()]


def coerce_values(profile: Profile, values: dict[str, Any] | None) -> dict[str, Any]:
    """The profile's parameters with `values` applied, each coerced to its default's type."""
    params = dict(profile.parameters)
    for key, value in (values or {}).items():
        if key not in params:
            known = ", ".join(sorted(params))
            raise InvalidInput(f"profile {profile.name}: unknown parameter {key!r}; known: {known}")
        default = profile.parameters[key]
        if isinstance(default, bool):
            params[key] = _as_bool(key, value)
        elif isinstance(default, list):
            params[key] = [v if isinstance(v, dict) else str(v) for v in _as_list(key, value)]
        else:
            params[key] = str(value)
    level = params.get("write_level")
    if level is not None and level not in profile.write_levels:
        raise InvalidInput(
            f"profile {profile.name}: write_level {level!r} is not one of {', '.join(profile.write_levels)}"
        )
    return params


def render_policy(profile: Profile, values: dict[str, Any] | None, version: Version) -> str:
    params = coerce_values(profile, values)
    params["omit_managed_fields"] = bool(params.get("omit_managed_fields")) and supports_omit_managed_fields(
        version
    )
    params["sensitive_groups"] = _sensitive_groups(params.get("sensitive_extra", []))
    import jinja2

    try:
        return environment().get_template(profile.template).render(**params, kubernetes_version=version)
    except jinja2.TemplateError as exc:
        raise InvalidInput(f"profile {profile.name}: cannot render {profile.template}: {exc}") from None
