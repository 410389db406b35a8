"""The audit policy and request as kube-apiserver sees them (audit.k8s.io/v1 shape, internal form)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kauditcfg.config.defaults import LEVELS

STAGES: tuple[str, ...] = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
LEVEL_RANK: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}

API_V1 = "audit.k8s.io/v1"
LEGACY_APIS: tuple[str, ...] = ("audit.k8s.io/v1beta1", "audit.k8s.io/v1alpha1")


@dataclass(frozen=True)
class GroupResources:
    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    level: str
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[GroupResources, ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: tuple[str, ...] = ()
    # None and False differ: None falls back to the policy-level value.
    omit_managed_fields: bool | None = None

    @property
    def is_resource_rule(self) -> bool:
        return bool(self.namespaces or self.resources)

    @property
    def is_catch_all(self) -> bool:
        return not (
            self.users
            or self.user_groups
            or self.verbs
            or self.resources
            or self.namespaces
            or self.non_resource_urls
        )


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...] = ()
    omit_stages: tuple[str, ...] = ()
    omit_managed_fields: bool = False
    api_version: str = API_V1
    # `group: "*"` is a wildcard only from Kubernetes 1.36; before, it is a literal group name.
    group_wildcard: bool = False

    @property
    def uses_resource_names(self) -> bool:
        return any(gr.resource_names for rule in self.rules for gr in rule.resources)


@dataclass(frozen=True)
class Request:
    """The authorizer attributes the audit policy is evaluated against."""

    verb: str
    user: str | None = None  # None: no authenticated user at all (differs from "")
    groups: tuple[str, ...] = ()
    is_resource: bool = True
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


@dataclass(frozen=True)
class Decision:
    level: str
    omit_stages: tuple[str, ...] = field(default=())
    omit_managed_fields: bool = False
    rule: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "level": self.level,
            "omitStages": list(self.omit_stages),
            "omitManagedFields": self.omit_managed_fields,
            "rule": self.rule,
        }
