"""Migration to audit.k8s.io/v1 keeps every other byte."""

from __future__ import annotations

import pytest

from kauditcfg.errors import InvalidInput
from kauditcfg.policy.load import validate_policy_text
from kauditcfg.policy.migrate import migrate_policy_text

OLD = """# my policy
apiVersion: "audit.k8s.io/v1beta1"   # old
kind: Policy
rules:
  # keep quiet
  - level: None
    users: ['system:kube-proxy']
  - level: Metadata
"""


@pytest.mark.parametrize("api", ["audit.k8s.io/v1beta1", "audit.k8s.io/v1alpha1"])
def test_migrates_and_keeps_comments(api: str) -> None:
    m = migrate_policy_text(OLD.replace("audit.k8s.io/v1beta1", api), "p.yaml", (1, 36))
    assert m.changed and m.from_version == api
    assert m.text == OLD.replace('"audit.k8s.io/v1beta1"', '"audit.k8s.io/v1"')
    assert validate_policy_text(m.text, "p.yaml", (1, 36)).ok


def test_v1_is_unchanged() -> None:
    text = OLD.replace("v1beta1", "v1")
    assert not migrate_policy_text(text, "p.yaml", (1, 36)).changed


def test_refuses_when_result_would_be_invalid() -> None:
    with pytest.raises(InvalidInput, match="level: Unsupported value"):
        migrate_policy_text(OLD + "  - level: Everything\n", "p.yaml", (1, 36))
