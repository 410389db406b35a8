"""audit_flags.py: which --audit-* flags each release knows, typos and values that would not parse."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from kauditcfg.audit_flags import flag_specs, known_audit_flags, unknown_audit_flags, value_problem
from kauditcfg.versions import NEWEST, SUPPORTED


def test_data_file_ships_inside_the_package() -> None:
    # hatch packages every file under kauditcfg/, so a wheel carries it next to the code.
    data = resources.files("kauditcfg").joinpath("data/apiserver_audit_flags.json")
    assert data.is_file()
    assert len(json.loads(data.read_text())["flags"]) == len(flag_specs())


@pytest.mark.parametrize("version", SUPPORTED)
def test_the_flags_kauditcfg_writes_exist_in_every_supported_release(version: tuple[int, int]) -> None:
    known = known_audit_flags(version)
    for name in (
        "audit-policy-file",
        "audit-log-path",
        "audit-log-maxage",
        "audit-log-maxbackup",
        "audit-log-maxsize",
        "audit-log-format",
        "audit-webhook-config-file",
        "audit-webhook-mode",
    ):
        assert name in known


def test_compress_arrived_in_1_20_and_dynamic_configuration_left_in_1_19() -> None:
    assert "audit-log-compress" not in known_audit_flags((1, 19))
    assert "audit-log-compress" in known_audit_flags((1, 20))
    assert "audit-dynamic-configuration" not in known_audit_flags((1, 19))
    assert known_audit_flags((1, 99)) == known_audit_flags(NEWEST)


def test_typos_get_the_closest_name_in_the_form_given() -> None:
    assert unknown_audit_flags(
        ["--audit-log-max-age", "audit-log-maxbackups", "--audit-log-path"], (1, 30)
    ) == [
        ("--audit-log-max-age", "--audit-log-maxage"),
        ("audit-log-maxbackups", "audit-log-maxbackup"),
    ]
    assert unknown_audit_flags(["--audit-log-compress"], (1, 19)) == [("--audit-log-compress", None)]
    assert unknown_audit_flags(["--profiling", "--audit-zzz-nothing-like-it"], (1, 30)) == [
        ("--audit-zzz-nothing-like-it", None)
    ]


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("audit-log-maxage", "30", None),
        ("audit-log-maxage", "-1", "negative"),
        ("audit-log-maxage", "30d", "not an integer"),
        ("audit-log-maxage", None, "needs a value"),
        ("audit-log-compress", None, None),
        ("audit-log-compress", "yes", "not a boolean"),
        ("audit-log-format", "json", None),
        ("audit-log-format", "text", "not one of json, legacy"),
        ("audit-webhook-mode", "blocking-strict", None),
        ("audit-webhook-batch-max-wait", "1m30s", None),
        ("audit-webhook-batch-max-wait", "30", "not a duration"),
        ("audit-webhook-batch-throttle-qps", "10.5", None),
        ("audit-log-version", "audit.k8s.io/v1beta1", "not one of audit.k8s.io/v1"),
        ("audit-log-path", "/anything", None),
    ],
)
def test_values(name: str, value: str | None, problem: str | None) -> None:
    found = value_problem(name, value, (1, 30))
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_old_event_versions_are_accepted_before_1_24() -> None:
    assert value_problem("audit-log-version", "audit.k8s.io/v1beta1", (1, 23)) is None
