"""The desired AuditConfig: grouped by backend, flags/mounts/hash derived, built once from options."""

from __future__ import annotations

from pathlib import Path

from kauditcfg.config import AuditConfig, LogBackend, MountSpec, build_config, flags_and_mounts
from kauditcfg.config.build import desired_config
from kauditcfg.config.defaults import CIS_ROTATION, LOG_PATH, POLICY_PATH, cis_rotation_flags
from kauditcfg.config.inputs import Inputs
from kauditcfg.config.options import EnableOptions
from kauditcfg.manifest.pod import load_apiserver_pod
from tests.helpers import FIXTURES

FLAGS = {
    "audit-policy-file": POLICY_PATH,
    "audit-log-path": LOG_PATH,
    "audit-log-maxage": "30",
    "audit-log-maxbackup": "10",
    "audit-log-maxsize": "100",
}


def test_hash_is_the_published_algorithm() -> None:
    """Golden manifests carry this exact hash: changing the algorithm would restart every apiserver."""
    config = build_config(FLAGS, b"golden-policy\n")
    assert (
        config.config_hash
        == "sha256:"
        + __import__("hashlib")
        .sha256(
            b"".join(f"--{k}={FLAGS[k]}\n".encode() for k in sorted(FLAGS))
            + b"\0policy\0golden-policy\n\0webhook\0"
        )
        .hexdigest()[:32]
    )


def test_flags_round_trip_through_the_backends() -> None:
    config = build_config(FLAGS, b"p")
    assert config.log == LogBackend(LOG_PATH, (("maxage", "30"), ("maxbackup", "10"), ("maxsize", "100")))
    assert config.webhook is None and config.flags == FLAGS


def test_flags_and_mounts_for_other_generators() -> None:
    flags, mounts = flags_and_mounts(build_config(FLAGS, b"p"))
    assert flags == FLAGS
    assert mounts == (
        MountSpec("audit-policy", "/etc/kubernetes/audit", read_only=True),
        MountSpec("audit-log", "/var/log/kubernetes/audit", read_only=False),
    )


def test_stdout_log_needs_no_mount_and_no_rotation() -> None:
    pod = load_apiserver_pod((FIXTURES / "kubeadm-v1.30.4.yaml").read_text(), "x")
    config = desired_config(EnableOptions(log_path="-", log_format="json"), pod, Inputs())
    assert config.flags == {
        "audit-policy-file": POLICY_PATH,
        "audit-log-path": "-",
        "audit-log-format": "json",
    }
    assert [m.path for m in config.mounts] == ["/etc/kubernetes/audit"]


def test_profile_defaults_are_the_cis_minimums_and_options_override() -> None:
    pod = load_apiserver_pod((FIXTURES / "kubeadm-v1.30.4.yaml").read_text(), "x")
    config = desired_config(EnableOptions(profile="minimal", log_maxage=45), pod, Inputs())
    assert isinstance(config, AuditConfig)
    assert config.flags["audit-log-maxage"] == "45"
    assert config.flags["audit-log-maxbackup"] == cis_rotation_flags()["audit-log-maxbackup"]
    assert [r.minimum for r in CIS_ROTATION] == [30, 10, 100]


def test_own_policy_bytes_are_kept_verbatim(tmp_path: Path) -> None:
    pod = load_apiserver_pod((FIXTURES / "kubeadm-v1.30.4.yaml").read_text(), "x")
    own = b"# mine\napiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"
    config = desired_config(EnableOptions(policy_file=tmp_path / "p.yaml"), pod, Inputs(policy=own))
    assert config.policy == own


def test_existing_paths_are_adopted_unless_options_move_them() -> None:
    from kauditcfg.config.build import desired

    pod = load_apiserver_pod((FIXTURES / "adopt-kubespray-v1.29.2.yaml").read_text(), "x")
    config, adoption = desired(EnableOptions(), pod, Inputs())
    assert config.flags["audit-log-path"] == "/var/log/audit/kube-apiserver-audit.log"
    assert config.policy_path == "/etc/kubernetes/audit-policy/apiserver-audit-policy.yaml"
    assert "adopted existing log path /var/log/audit/kube-apiserver-audit.log" in adoption.notes
    moved, adoption = desired(EnableOptions(log_path=LOG_PATH, policy_path=POLICY_PATH), pod, Inputs())
    assert (moved.flags["audit-log-path"], moved.policy_path) == (LOG_PATH, POLICY_PATH)
    assert not any(n.startswith("adopted") for n in adoption.notes)


def test_rotation_values_are_at_least_the_profiles() -> None:
    from kauditcfg.config.build import desired

    pod = load_apiserver_pod((FIXTURES / "adopt-high-rotation-v1.31.1.yaml").read_text(), "x")
    config, _ = desired(EnableOptions(), pod, Inputs())
    assert config.log is not None
    assert dict(config.log.options) == {"maxage": "90", "maxbackup": "20", "maxsize": "1000"}
    config, _ = desired(EnableOptions(log_maxsize=50, allow_unbounded=False), pod, Inputs())
    assert config.flags["audit-log-maxsize"] == "50"  # an explicit option sets exactly what it says
