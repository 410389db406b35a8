"""Load a policy file the way kube-apiserver's reader does: decode, check the version, validate.

Errors read like kube-apiserver's field.ErrorList (`rules[2].level: Unsupported value: ...`).
Unknown fields and duplicate keys are what its strict decoder rejects and its lenient retry then
accepts (reader.go, LoadPolicyFromBytes): they load, and we return them as warnings because they
usually hide a typo (`resource:` for `resources:`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from kauditcfg.config.defaults import LEVELS
from kauditcfg.policy.model import API_V1, LEGACY_APIS, STAGES, GroupResources, Policy, Rule
from kauditcfg.policy.yamltree import Tree, YamlSyntaxError, read_first_document
from kauditcfg.versions import (
    Version,
    format_version,
    only_v1_policies,
    supports_group_wildcard,
    supports_omit_managed_fields,
)

# kubernetes/kubernetes#113535: the strict pass with a lenient retry, first released in 1.26.
STRICT_PASS: Version = (1, 26)


def has_strict_pass(version: Version) -> bool:
    return version >= STRICT_PASS

_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1123_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_OBJECT_META_FIELDS = frozenset(
    {
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
        "annotations", "ownerReferences", "finalizers", "managedFields",
    }
)  # fmt: skip
POLICY_FIELDS = ("apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields")
_RULE_LISTS = ("users", "userGroups", "verbs", "namespaces", "nonResourceURLs", "omitStages")
RULE_FIELDS = frozenset({"level", "resources", "omitManagedFields", *_RULE_LISTS})
GR_FIELDS = frozenset({"group", "resources", "resourceNames"})


@dataclass
class UnknownField:
    path: str
    name: str
    rule: int | None


@dataclass
class ValidationResult:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    policy: Policy | None = None
    api_version: str | None = None
    unknown_fields: list[UnknownField] = field(default_factory=list)
    tree: Tree | None = None  # where each field sits, and the duplicated keys

    @property
    def ok(self) -> bool:
        return not self.errors and self.policy is not None


def go_quote(value: Any) -> str:
    """Values the way field.Error prints them: strings quoted, string slices as Go literals."""
    if isinstance(value, list | tuple):
        return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
    return json.dumps(str(value), ensure_ascii=False)


class _DecodeError(Exception):
    pass


class _Decoder:
    """Turns the YAML tree into the typed policy, recording type errors and unknown fields."""

    def __init__(self, version: Version) -> None:
        self.version = version
        self.errors: list[str] = []
        self.unknown: list[UnknownField] = []

    def _unknown(self, path: str, name: str, rule: int | None) -> None:
        self.unknown.append(UnknownField(path, name, rule))

    def _fail(self, path: str, expected: str, value: Any) -> None:
        got = "null" if value is None else type(value).__name__
        self.errors.append(
            f"{path}: failed decoding: expected {expected}, got {got} {json.dumps(value, default=str)}"
        )

    def string(self, value: Any, path: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            self._fail(path, "a string", value)
            return ""
        return value

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self._fail(path, "a list of strings", value)
            return ()
        return tuple(self.string(item, f"{path}[{i}]") for i, item in enumerate(value))

    def boolean(self, value: Any, path: str) -> bool | None:
        if value is None:
            return None
        if not isinstance(value, bool):
            self._fail(path, "a boolean", value)
            return None
        return value

    def mapping(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self._fail(path, "an object", value)
            return {}
        return value

    def _omf_known(self, path: str, rule: int | None) -> bool:
        if supports_omit_managed_fields(self.version):
            return True
        # Before 1.23 the field does not exist: the strict decoder rejects it, the lenient one drops it.
        self._unknown(path, "omitManagedFields", rule)
        return False

    def group_resources(self, value: Any, path: str, rule: int) -> GroupResources:
        data = self.mapping(value, path)
        for key in data:
            if key not in GR_FIELDS:
                self._unknown(f"{path}.{key}", str(key), rule)
        return GroupResources(
            group=self.string(data.get("group"), f"{path}.group"),
            resources=self.strings(data.get("resources"), f"{path}.resources"),
            resource_names=self.strings(data.get("resourceNames"), f"{path}.resourceNames"),
        )

    def rule(self, value: Any, index: int) -> Rule:
        path = f"rules[{index}]"
        data = self.mapping(value, path)
        for key in data:
            if key not in RULE_FIELDS:
                self._unknown(f"{path}.{key}", str(key), index)
        lists = {key: self.strings(data.get(key), f"{path}.{key}") for key in _RULE_LISTS}
        raw_resources = data.get("resources")
        resources: tuple[GroupResources, ...] = ()
        if isinstance(raw_resources, list):
            resources = tuple(
                self.group_resources(item, f"{path}.resources[{i}]", index)
                for i, item in enumerate(raw_resources)
            )
        elif raw_resources is not None:
            self._fail(f"{path}.resources", "a list of objects", raw_resources)
        omf: bool | None = None
        if "omitManagedFields" in data and self._omf_known(f"{path}.omitManagedFields", index):
            omf = self.boolean(data["omitManagedFields"], f"{path}.omitManagedFields")
        return Rule(
            level=self.string(data.get("level"), f"{path}.level"),
            users=lists["users"],
            user_groups=lists["userGroups"],
            verbs=lists["verbs"],
            resources=resources,
            namespaces=lists["namespaces"],
            non_resource_urls=lists["nonResourceURLs"],
            omit_stages=lists["omitStages"],
            omit_managed_fields=omf,
        )

    def policy(self, data: dict[str, Any], api_version: str) -> Policy:
        for key in data:
            if key not in POLICY_FIELDS:
                self._unknown(str(key), str(key), None)
        for key in self.mapping(data.get("metadata"), "metadata"):
            if key not in _OBJECT_META_FIELDS:
                self._unknown(f"metadata.{key}", str(key), None)
        raw_rules = data.get("rules")
        rules: tuple[Rule, ...] = ()
        if isinstance(raw_rules, list):
            rules = tuple(self.rule(item, i) for i, item in enumerate(raw_rules))
        elif raw_rules is not None:
            self._fail("rules", "a list of objects", raw_rules)
        omf = False
        if "omitManagedFields" in data and self._omf_known("omitManagedFields", None):
            omf = bool(self.boolean(data["omitManagedFields"], "omitManagedFields"))
        return Policy(
            rules=rules,
            omit_stages=self.strings(data.get("omitStages"), "omitStages"),
            omit_managed_fields=omf,
            api_version=api_version,
            group_wildcard=supports_group_wildcard(self.version),
        )


def _validate_stages(stages: tuple[str, ...], path: str) -> list[str]:
    return [
        f"{path}[{i}]: Invalid value: {go_quote(s)}: allowed stages are {','.join(STAGES)}"
        for i, s in enumerate(stages)
        if s not in STAGES
    ]


def _validate_group(group: str, path: str, version: Version) -> list[str]:
    if not group or (group == "*" and supports_group_wildcard(version)):
        return []
    msgs = []
    if len(group) > 253:
        msgs.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.fullmatch(group):
        msgs.append(_DNS1123_MSG)
    return [f"{path}: Invalid value: {go_quote(group)}: {','.join(msgs)}"] if msgs else []


def _validate_rule(rule: Rule, path: str, version: Version) -> list[str]:
    errors: list[str] = []
    if rule.level == "":
        errors.append(f"{path}.level: Required value")
    elif rule.level not in LEVELS:
        supported = ", ".join(go_quote(level) for level in LEVELS)
        errors.append(
            f"{path}.level: Unsupported value: {go_quote(rule.level)}: supported values: {supported}"
        )
    for i, url in enumerate(rule.non_resource_urls):
        if url == "*":
            continue
        if not url.startswith("/"):
            errors.append(
                f"{path}.nonResourceURLs[{i}]: Invalid value: {go_quote(url)}: "
                "non-resource URL rules must begin with a '/' character"
            )
        if url and "*" in url[:-1]:
            errors.append(
                f"{path}.nonResourceURLs[{i}]: Invalid value: {go_quote(url)}: "
                "non-resource URL wildcards '*' must be the final character of the rule"
            )
    for entry in rule.resources:
        errors.extend(_validate_group(entry.group, f"{path}.resources.group", version))
        if entry.resource_names and not entry.resources:
            errors.append(
                f"{path}.resources.resourceNames: Invalid value: {go_quote(entry.resource_names)}: "
                "using resourceNames requires at least one resource"
            )
    errors.extend(_validate_stages(rule.omit_stages, f"{path}.omitStages"))
    if rule.non_resource_urls and (rule.resources or rule.namespaces):
        errors.append(
            f"{path}.nonResourceURLs: Invalid value: {go_quote(rule.non_resource_urls)}: "
            "rules cannot apply to both regular resources and non-resource URLs"
        )
    return errors


def validate_policy(policy: Policy, version: Version) -> list[str]:
    """ValidatePolicy: every error, in kube-apiserver's order (policy stages, then rule by rule)."""
    errors = _validate_stages(policy.omit_stages, "omitStages")
    for i, rule in enumerate(policy.rules):
        errors.extend(_validate_rule(rule, f"rules[{i}]", version))
    return errors


def _strict_pass(version: Version) -> str:
    """What kube-apiserver of `version` does with a field its decoder does not know.

    reader.go decodes strictly first and, on a strict-decoding error only, decodes again leniently
    and logs the error (kubernetes/kubernetes#113535, fixing #113266, released in 1.26). Before,
    it decoded leniently once: unknown fields vanished without a word.
    """
    if has_strict_pass(version):
        return f"kube-apiserver {format_version(version)} drops it and logs a warning"
    return f"kube-apiserver {format_version(version)} drops it silently"


def _document(text: str, source: str, result: ValidationResult, version: Version) -> Any:
    """The first document's data; problems with the file as a whole go into `result`."""
    try:
        tree = read_first_document(text)
    except YamlSyntaxError as exc:
        result.errors.append(f"failed decoding: yaml: {exc}")
        return None
    result.tree = tree
    if tree.empty_first:
        result.errors.append(
            f"{source}: the first YAML document is empty and kube-apiserver reads only the first one: "
            "failed decoding: Object 'Kind' is missing in 'null'; remove the leading `---` line(s)"
        )
        return None
    if tree.later_documents:
        broken = f" (one does not even parse: {tree.later_error})" if tree.later_error else ""
        result.warnings.append(
            f"the file holds {tree.later_documents + 1} YAML documents; kube-apiserver reads only "
            f"the first and ignores the rest{broken}"
        )
    logged = " and logs a warning" if has_strict_pass(version) else ", without a warning"
    for dup in tree.duplicates:
        result.warnings.append(
            f"{dup.path}: duplicate field (lines {dup.first.line} and {dup.second.line}): "
            f"kube-apiserver {format_version(version)} keeps the last value{logged}"
        )
    return tree.data


def validate_policy_text(text: str, source: str, version: Version) -> ValidationResult:
    """What kube-apiserver of `version` would say loading `text` as --audit-policy-file.

    `source` names the file in messages that are about the whole file. Never raises on bad input.
    """
    result = ValidationResult()
    data = _document(text, source, result, version)
    if result.errors:
        return result
    if data is None:
        result.errors.append(f"{source}: loaded illegal policy with 0 rules")
        result.policy = Policy()
        return result
    if not isinstance(data, dict):
        result.errors.append(
            f"failed decoding: {source} holds a YAML {type(data).__name__}, not a Policy object"
        )
        return result
    api_version = data.get("apiVersion")
    kind = data.get("kind")
    result.api_version = api_version if isinstance(api_version, str) else None
    decoder = _Decoder(version)
    policy = decoder.policy(data, result.api_version or "")
    result.policy = policy
    result.unknown_fields = decoder.unknown
    type_errors = _check_type(api_version, kind, version)
    if type_errors:
        # The decoder stops at the group/version: kube-apiserver reports this and nothing else.
        result.errors = type_errors
        return result
    result.errors.extend(decoder.errors)
    result.warnings.extend(
        f'{u.path}: unknown field "{u.name}": {_strict_pass(version)}' for u in decoder.unknown
    )
    if api_version in LEGACY_APIS:
        result.warnings.append(
            f"apiVersion {api_version} is deprecated and removed in Kubernetes 1.24; "
            "run `kauditcfg policy migrate` to move to audit.k8s.io/v1"
        )
    if not decoder.errors:
        result.errors.extend(validate_policy(policy, version))
    if not policy.rules:
        result.errors.append(f"{source}: loaded illegal policy with 0 rules")
    return result


def _check_type(api_version: Any, kind: Any, version: Version) -> list[str]:
    if not api_version or not kind:
        missing = " and ".join(name for name, v in (("apiVersion", api_version), ("kind", kind)) if not v)
        return [
            f"{missing}: failed decoding: Object '{'Kind' if not kind else 'APIVersion'}' is missing: "
            f"kube-apiserver refuses a policy without a group/version; start the file with "
            f"`apiVersion: {API_V1}` and `kind: Policy`"
        ]
    if api_version in LEGACY_APIS and only_v1_policies(version):
        return [
            f'apiVersion: failed decoding: no kind "Policy" is registered for version "{api_version}": '
            f"removed in Kubernetes 1.24 (checking for {format_version(version)}); "
            "run `kauditcfg policy migrate` to convert it to audit.k8s.io/v1"
        ]
    if api_version != API_V1 and api_version not in LEGACY_APIS:
        return [f'apiVersion: failed decoding: no kind "Policy" is registered for version "{api_version}"']
    if kind != "Policy":
        return [f'kind: failed decoding: no kind "{kind}" is registered for version "{api_version}"']
    return []
