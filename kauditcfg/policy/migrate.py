"""Move a policy from audit.k8s.io/v1alpha1 or v1beta1 to v1 (removed in Kubernetes 1.24).

The Policy schema did not change between these versions, so only `apiVersion` changes. ruamel
locates the value in the file and only those bytes are replaced: comments, quoting, key order and
blank lines stay exactly as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode

from kauditcfg.errors import InvalidInput
from kauditcfg.policy.load import validate_policy_text
from kauditcfg.policy.model import API_V1, LEGACY_APIS
from kauditcfg.versions import Version


@dataclass(frozen=True)
class Migration:
    text: str
    from_version: str
    changed: bool
    warnings: tuple[str, ...] = ()


def _api_version_node(text: str, source: str) -> ScalarNode:
    yaml = YAML(typ="rt", pure=True)
    try:
        # kube-apiserver reads only the first document of the file.
        root = next(iter(yaml.compose_all(text)), None)
    except YAMLError as exc:
        raise InvalidInput(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(root, MappingNode):
        raise InvalidInput(f"{source}: not a Policy object")
    for key, value in root.value:
        if isinstance(key, ScalarNode) and key.value == "apiVersion" and isinstance(value, ScalarNode):
            return value
    raise InvalidInput(f"{source}: no apiVersion: not an audit policy")


def migrate_policy_text(text: str, source: str, version: Version) -> Migration:
    """The policy as audit.k8s.io/v1; InvalidInput when the result would not load on `version`."""
    node = _api_version_node(text, source)
    current = str(node.value)
    if current != API_V1 and current not in LEGACY_APIS:
        raise InvalidInput(f"{source}: apiVersion {current!r} is not an audit policy version")
    migrated = text
    if current != API_V1:
        start, end = node.start_mark.index, node.end_mark.index
        quote = text[start] if text[start] in "'\"" else ""
        migrated = text[:start] + f"{quote}{API_V1}{quote}" + text[end:]
    result = validate_policy_text(migrated, source, version)
    if not result.ok:
        raise InvalidInput(f"{source}: the migrated policy is still invalid: " + "; ".join(result.errors))
    return Migration(migrated, current, migrated != text, tuple(result.warnings))
