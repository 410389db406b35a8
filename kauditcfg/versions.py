"""Kubernetes versions the tool knows, and the audit features that depend on them."""

from __future__ import annotations

import re

from kauditcfg.errors import UsageError

Version = tuple[int, int]

OLDEST: Version = (1, 19)
NEWEST: Version = (1, 36)
SUPPORTED: tuple[Version, ...] = tuple((1, minor) for minor in range(OLDEST[1], NEWEST[1] + 1))


def parse_version(text: str) -> Version:
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+.*)?", text.strip())
    if not match:
        raise UsageError(f"--kubernetes-version {text!r}: expected X.Y such as 1.29")
    return int(match.group(1)), int(match.group(2))


def format_version(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def supports_omit_managed_fields(version: Version) -> bool:
    return version >= (1, 23)


def only_v1_policies(version: Version) -> bool:
    """audit.k8s.io/v1beta1 and v1alpha1 were removed in 1.24."""
    return version >= (1, 24)


def supports_group_wildcard(version: Version) -> bool:
    return version >= (1, 36)
