"""Preflight against sandbox nodes: real directories, owners and modes; a simulated disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kauditcfg.node.preflight import PreflightOptions, PreflightReport, run_preflight
from kauditcfg.ops.plan import FileChange, HostAction
from kauditcfg.versions import Version
from tests.helpers import FIXTURES
from tests.sandbox import (
    CIS_FLAGS,
    GOOD_POLICY,
    KAS_GID,
    KAS_UID,
    LOG,
    LOG_DIR,
    LOG_FILE_MOUNTED,
    POLICY,
    ROOTLESS,
    SA_KEY_READERS,
    V1BETA1_POLICY,
    FakeStatvfs,
    Node,
    manifest_text,
    node,
    parse,
    snapshot,
)

BIG_DISK = FakeStatvfs(free_mb=1_000_000)


def policy_change(node_: Node, data: bytes = GOOD_POLICY, path: str = POLICY) -> FileChange:
    return FileChange(path, node_.host.read_bytes(path), data)


def preflight(
    n: Node,
    text: str,
    files: list[FileChange] | None = None,
    version: Version = (1, 30),
    statvfs: FakeStatvfs = BIG_DISK,
    **options: bool,
) -> PreflightReport:
    """Run preflight and prove it touched nothing on the node."""
    pod = n.manifest(text)
    before = snapshot(n.root)
    report = run_preflight(
        n.host,
        pod,
        files if files is not None else [policy_change(n)],
        PreflightOptions(version, **options),
        statvfs=statvfs,
    )
    assert snapshot(n.root) == before
    return report


def only_problem(report: PreflightReport, *needles: str) -> str:
    assert len(report.problems) == 1, report.problems
    problem = report.problems[0]
    for needle in needles:
        assert needle in problem, (needle, problem)
    assert "\n" not in problem
    return problem


# --- a root kube-apiserver (plain kubeadm) -----------------------------------------------------


def test_root_pod_log_dir_missing_is_created_root_owned_0700(tmp_path: Path) -> None:
    n = node(tmp_path)
    change = policy_change(n)
    report = preflight(n, manifest_text(), [change])
    assert report.problems == []
    assert report.actions == [HostAction("mkdir", LOG_DIR, mode=0o700, uid=0, gid=0)]
    change = report.owned(change)  # preflight says which owner it wants; the plan takes it
    assert (change.uid, change.gid, change.mode) == (0, 0, 0o600)


def test_root_pod_with_existing_writable_log_dir_needs_nothing(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR, mode=0o755)
    report = preflight(n, manifest_text())
    assert report.problems == [] and report.actions == [] and report.warnings == []


def test_container_security_context_overrides_the_pod(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR, mode=0o755)
    text = manifest_text(security=ROOTLESS, container_security={"runAsUser": 0, "runAsGroup": 0})
    assert preflight(n, text).problems == []


# --- the rootless control plane -----------------------------------------------------------------


def test_rootless_root_owned_0755_log_dir_is_refused_naming_uid_dir_owner_and_fix(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR, uid=0, gid=0, mode=0o755)
    report = preflight(n, manifest_text(security=ROOTLESS))
    only_problem(report, "uid 1203", "gid 1203", LOG_DIR, "owner 0:0 mode 0755", "--fix-ownership")
    assert report.actions == []


def test_rootless_fix_ownership_chowns_and_chmods_the_log_dir(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR, uid=0, gid=0, mode=0o755)
    report = preflight(n, manifest_text(security=ROOTLESS), fix_ownership=True)
    assert report.problems == []
    assert HostAction("chown", LOG_DIR, uid=KAS_UID, gid=KAS_GID) in report.actions
    assert HostAction("chmod", LOG_DIR, mode=0o700) in report.actions


def test_rootless_missing_log_dir_is_created_owned_by_run_as_user(tmp_path: Path) -> None:
    n = node(tmp_path)
    change = policy_change(n)
    report = preflight(n, manifest_text(security=ROOTLESS), [change])
    assert report.problems == []
    assert report.actions == [HostAction("mkdir", LOG_DIR, mode=0o700, uid=KAS_UID, gid=KAS_GID)]
    # Root keeps the policy; the kube-apiserver group may read it, nobody else.
    change = report.owned(change)  # preflight says which owner it wants; the plan takes it
    assert (change.uid, change.gid, change.mode) == (0, KAS_GID, 0o640)


def test_rootless_without_run_as_group_owns_policy_by_the_user(tmp_path: Path) -> None:
    n = node(tmp_path)
    change = policy_change(n)
    report = preflight(n, manifest_text(security={"runAsUser": KAS_UID}), [change])
    assert report.problems == []
    change = report.owned(change)  # preflight says which owner it wants; the plan takes it
    assert (change.uid, change.gid, change.mode) == (KAS_UID, 0, 0o600)
    assert report.actions == [HostAction("mkdir", LOG_DIR, mode=0o700, uid=KAS_UID, gid=0)]


def test_rootless_log_dir_already_owned_by_the_user_is_left_alone(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR, uid=KAS_UID, gid=KAS_GID, mode=0o700)
    report = preflight(n, manifest_text(security=ROOTLESS), fix_ownership=True)
    assert report.problems == [] and report.actions == []


def test_rootless_supplementary_group_write_access_is_enough(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR, uid=0, gid=SA_KEY_READERS, mode=0o770)
    assert preflight(n, manifest_text(security=ROOTLESS)).problems == []


def test_rootless_fs_group_counts_as_a_supplementary_group(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR, uid=0, gid=4242, mode=0o770)
    security = {"runAsUser": KAS_UID, "runAsGroup": KAS_GID, "fsGroup": 4242}
    assert preflight(n, manifest_text(security=security)).problems == []


def test_owner_bits_decide_even_when_others_may_write(tmp_path: Path) -> None:
    # Like the kernel: the owner class applies to the owner, so 0577 locks the owner out.
    n = node(tmp_path)
    n.mkdir(LOG_DIR, uid=KAS_UID, gid=0, mode=0o577)
    only_problem(preflight(n, manifest_text(security=ROOTLESS)), "owner 1203:0 mode 0577")


def test_rootless_existing_root_owned_log_file_is_refused_then_chowned(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR, uid=KAS_UID, gid=KAS_GID, mode=0o700)
    n.write(LOG, b"{}\n", uid=0, gid=0, mode=0o600)
    only_problem(preflight(n, manifest_text(security=ROOTLESS)), LOG, "append", "--fix-ownership")
    fixed = preflight(n, manifest_text(security=ROOTLESS), fix_ownership=True)
    assert fixed.problems == []
    assert fixed.actions == [HostAction("chown", LOG, uid=KAS_UID, gid=KAS_GID)]


def test_rootless_unsearchable_policy_directory_is_refused_then_chmodded(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR, uid=KAS_UID, gid=KAS_GID, mode=0o700)
    n.mkdir("/etc/kubernetes/audit", mode=0o700)
    only_problem(preflight(n, manifest_text(security=ROOTLESS)), "/etc/kubernetes/audit", "cannot enter")
    fixed = preflight(n, manifest_text(security=ROOTLESS), fix_ownership=True)
    assert fixed.problems == []
    assert fixed.actions == [HostAction("chmod", "/etc/kubernetes/audit", mode=0o701)]


def test_existing_policy_not_planned_must_be_readable(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR, uid=KAS_UID, gid=KAS_GID, mode=0o700)
    n.write(POLICY, GOOD_POLICY, uid=0, gid=0, mode=0o600)
    only_problem(preflight(n, manifest_text(security=ROOTLESS), files=[]), POLICY, "cannot read", "owner 0:0")
    fixed = preflight(n, manifest_text(security=ROOTLESS), files=[], fix_ownership=True)
    assert fixed.problems == []
    assert fixed.actions == [
        HostAction("chown", POLICY, uid=0, gid=KAS_GID),
        HostAction("chmod", POLICY, mode=0o640),
    ]


def test_rootless_fixture_refused_then_fixed(tmp_path: Path) -> None:
    fixture = FIXTURES / "rootless-v1.30.4.yaml"
    if not fixture.is_file():
        pytest.skip("fixtures/manifests/rootless-v1.30.4.yaml not present yet")
    from kauditcfg.config.audit import build_config
    from kauditcfg.manifest.patch import patch_manifest

    n = node(tmp_path)
    n.mkdir(LOG_DIR, uid=0, gid=0, mode=0o755)
    pod = parse(fixture.read_text())
    patched = patch_manifest(pod, build_config(dict(CIS_FLAGS), GOOD_POLICY))
    refused = preflight(n, patched)
    only_problem(refused, "uid 1203", LOG_DIR, "owner 0:0 mode 0755", "--fix-ownership")
    fixed = preflight(n, patched, fix_ownership=True)
    assert fixed.problems == []
    assert HostAction("chown", LOG_DIR, uid=1203, gid=1203) in fixed.actions


# --- mounts --------------------------------------------------------------------------------------


def test_flags_without_mounts_are_refused_naming_each_path(tmp_path: Path) -> None:
    n = node(tmp_path)
    report = preflight(n, manifest_text(mounts=[]))
    assert len(report.problems) == 2
    assert any(POLICY in p and "no volumeMount" in p for p in report.problems)
    assert any(LOG_DIR in p and "read-write" in p for p in report.problems)


def test_log_file_mounted_instead_of_its_directory_is_refused(tmp_path: Path) -> None:
    n = node(tmp_path)
    report = preflight(n, manifest_text(mounts=LOG_FILE_MOUNTED))
    assert any("mounts the log file itself" in p and "mount the directory" in p for p in report.problems)


def test_read_only_log_mount_is_refused(tmp_path: Path) -> None:
    n = node(tmp_path)
    mounts = [
        {"name": "audit-log", "mountPath": LOG_DIR, "host": LOG_DIR, "readOnly": True},
        {
            "name": "audit-policy",
            "mountPath": "/etc/kubernetes/audit",
            "host": "/etc/kubernetes/audit",
            "readOnly": True,
        },
    ]
    only_problem(preflight(n, manifest_text(mounts=mounts)), "readOnly: true", "audit-log")


def test_mount_from_a_non_host_path_volume_is_refused(tmp_path: Path) -> None:
    n = node(tmp_path)
    mounts = [
        {"name": "audit-log", "mountPath": LOG_DIR, "emptyDir": True},
        {
            "name": "audit-policy",
            "mountPath": "/etc/kubernetes/audit",
            "host": "/etc/kubernetes/audit",
            "readOnly": True,
        },
    ]
    only_problem(preflight(n, manifest_text(mounts=mounts)), "not a hostPath volume", "audit-log")


def test_host_path_of_type_directory_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR)
    mounts = [
        {"name": "audit-log", "mountPath": LOG_DIR, "host": LOG_DIR, "type": "Directory"},
        {
            "name": "audit-policy",
            "mountPath": "/etc/kubernetes/audit",
            "host": "/srv/audit",
            "type": "Directory",
            "readOnly": True,
        },
    ]
    report = preflight(
        n, manifest_text(mounts=mounts), files=[policy_change(n, path="/srv/audit/policy.yaml")]
    )
    # The planned policy file creates /srv/audit: only a truly missing directory is a problem.
    assert report.problems == []
    n2 = node(tmp_path / "other")
    n2.mkdir(LOG_DIR)
    n2.write("/srv/audit/policy.yaml", GOOD_POLICY)
    mounts[1]["host"] = "/srv/missing"
    report = preflight(n2, manifest_text(mounts=mounts), files=[])
    assert any("/srv/missing" in p and "type Directory" in p for p in report.problems)


# --- disk -----------------------------------------------------------------------------------------


def test_absurd_rotation_budget_is_refused_with_the_numbers(tmp_path: Path) -> None:
    n = node(tmp_path)
    flags = dict(CIS_FLAGS, **{"audit-log-maxsize": "10000", "audit-log-maxbackup": "100"})
    problem = only_problem(
        preflight(n, manifest_text(flags), statvfs=FakeStatvfs(free_mb=50_000)),
        "--audit-log-maxsize=10000",
        "--audit-log-maxbackup=100",
        "1010000 MB",
        "50000 MB",
        "2020%",
    )
    assert LOG_DIR in problem and "at most 37500 MB" in problem


def test_budget_over_a_quarter_of_free_space_warns(tmp_path: Path) -> None:
    n = node(tmp_path)
    asked: list[str] = []
    report = preflight(n, manifest_text(), statvfs=FakeStatvfs(free_mb=2200, asked=asked))
    assert report.problems == []
    assert any("1100 MB" in w and "50%" in w for w in report.warnings)
    # The log directory does not exist yet: free space is read on its nearest existing ancestor.
    assert asked == [str(n.root)]


def test_budget_counts_space_the_current_audit_files_already_use(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR)
    n.write(LOG, b"x" * (400 * 1024 * 1024 // 100))  # 4 MB, a real file
    report = preflight(n, manifest_text(), statvfs=FakeStatvfs(free_mb=2000))
    assert any("2004 MB available" in w for w in report.warnings), report.warnings


@pytest.mark.parametrize(("flag", "value"), [("audit-log-maxbackup", "0"), ("audit-log-maxsize", "0")])
def test_unbounded_retention_is_refused_unless_allowed(tmp_path: Path, flag: str, value: str) -> None:
    n = node(tmp_path)
    text = manifest_text(dict(CIS_FLAGS, **{flag: value}))
    only_problem(preflight(n, text), f"--{flag} is 0", "--allow-unbounded")
    allowed = preflight(n, text, allow_unbounded=True)
    assert allowed.problems == []
    assert any(f"--{flag} is 0" in w for w in allowed.warnings)


def test_missing_maxbackup_is_unbounded_too(tmp_path: Path) -> None:
    n = node(tmp_path)
    flags = {k: v for k, v in CIS_FLAGS.items() if k != "audit-log-maxbackup"}
    only_problem(preflight(n, manifest_text(flags)), "--audit-log-maxbackup is unset")


def test_stdout_logging_needs_no_mount_and_no_disk(tmp_path: Path) -> None:
    n = node(tmp_path)
    text = manifest_text(
        {"audit-policy-file": POLICY, "audit-log-path": "-"},
        mounts=[
            {
                "name": "audit-policy",
                "mountPath": "/etc/kubernetes/audit",
                "host": "/etc/kubernetes/audit",
                "readOnly": True,
            }
        ],
    )
    report = preflight(n, text, statvfs=FakeStatvfs(free_mb=1))
    assert report.problems == [] and report.actions == []


# --- flags and policy ------------------------------------------------------------------------------


def test_typo_flag_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    n = node(tmp_path)
    text = manifest_text(dict(CIS_FLAGS, **{"audit-log-max-age": "30"}))
    only_problem(preflight(n, text), "--audit-log-max-age", "usage", "did you mean --audit-log-maxage?")


def test_flag_of_a_later_release_is_refused(tmp_path: Path) -> None:
    n = node(tmp_path)
    text = manifest_text(
        dict(CIS_FLAGS, **{"audit-log-compress": "true"}), image="k8s.gcr.io/kube-apiserver:v1.19.16"
    )
    only_problem(preflight(n, text, version=(1, 19)), "--audit-log-compress", "1.20")
    assert preflight(n, text, version=(1, 20)).problems == []


def test_value_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    n = node(tmp_path)
    text = manifest_text(dict(CIS_FLAGS, **{"audit-log-maxage": "thirty"}))
    only_problem(preflight(n, text), "--audit-log-maxage=thirty", "not an integer")


def test_v1beta1_policy_is_refused_on_1_24_and_later(tmp_path: Path) -> None:
    n = node(tmp_path)
    report = preflight(n, manifest_text(), [policy_change(n, V1BETA1_POLICY)])
    assert report.problems and all("v1beta1" in p for p in report.problems)
    assert any(POLICY in p for p in report.problems)


def test_policy_without_rules_is_refused(tmp_path: Path) -> None:
    n = node(tmp_path)
    empty = b"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n"
    report = preflight(n, manifest_text(), [policy_change(n, empty)])
    assert report.problems and any("rules" in p for p in report.problems)


def test_existing_policy_missing_on_host_is_refused(tmp_path: Path) -> None:
    n = node(tmp_path)
    only_problem(preflight(n, manifest_text(), files=[]), POLICY, "does not exist")


# --- webhook ---------------------------------------------------------------------------------------


WEBHOOK = "/etc/kubernetes/audit/webhook-kubeconfig.yaml"


def webhook_config(ca: str) -> bytes:
    return f"""apiVersion: v1
kind: Config
clusters:
- name: sink
  cluster:
    server: https://audit.example:8443/events
    certificate-authority: {ca}
users:
- name: kube-apiserver
  user:
    tokenFile: token
contexts:
- name: default
  context: {{cluster: sink, user: kube-apiserver}}
current-context: default
""".encode()


def test_webhook_kubeconfig_files_must_be_mounted_and_present(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(LOG_DIR)
    n.write("/etc/kubernetes/audit/token", b"secret")
    n.write("/opt/ca/ca.crt", b"pem")
    flags = dict(CIS_FLAGS, **{"audit-webhook-config-file": WEBHOOK, "audit-webhook-mode": "blocking"})
    hook = FileChange(WEBHOOK, None, webhook_config("/opt/ca/ca.crt"))
    report = preflight(n, manifest_text(flags), [policy_change(n), hook])
    only_problem(report, "certificate-authority /opt/ca/ca.crt", "no volumeMount")
    assert any("--audit-webhook-mode=blocking" in w for w in report.warnings)
    hook = report.owned(hook)
    assert (hook.uid, hook.gid, hook.mode) == (0, 0, 0o600)

    relative = FileChange(WEBHOOK, None, webhook_config("ca.crt"))  # next to the kubeconfig, not there
    report = preflight(n, manifest_text(flags), [policy_change(n), relative])
    only_problem(report, "/etc/kubernetes/audit/ca.crt", "does not exist")


def test_unparseable_webhook_kubeconfig_is_refused(tmp_path: Path) -> None:
    n = node(tmp_path)
    flags = dict(CIS_FLAGS, **{"audit-webhook-config-file": WEBHOOK})
    hook = FileChange(WEBHOOK, None, b"- just\n- a list\n")
    only_problem(preflight(n, manifest_text(flags), [policy_change(n), hook]), "not a YAML kubeconfig")


def test_policy_without_any_backend_warns(tmp_path: Path) -> None:
    n = node(tmp_path)
    report = preflight(n, manifest_text({"audit-policy-file": POLICY}))
    assert report.problems == []
    assert any("events go nowhere" in w for w in report.warnings)


# --- through `kauditcfg enable`: each refusal exits 4 and leaves the node byte-identical -----------


def cli(*args: str) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from kauditcfg.cli import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def rootless_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Node:
    fixture = FIXTURES / "rootless-v1.30.4.yaml"
    if not fixture.is_file():
        pytest.skip("fixtures/manifests/rootless-v1.30.4.yaml not present yet")
    import kauditcfg.node.disk

    monkeypatch.setattr(kauditcfg.node.disk, "default_statvfs", BIG_DISK)
    n = node(tmp_path)
    n.manifest(fixture.read_text())
    return n


def refused(n: Node, *args: str) -> tuple[str, str]:
    before = snapshot(n.root)
    code, out, err = cli("enable", "--root", str(n.root), *args)
    assert code == 4, (code, err)
    assert snapshot(n.root) == before
    return out, err


def test_enable_rootless_refused_then_fixed_with_fix_ownership(rootless_node: Node) -> None:
    n = rootless_node
    n.mkdir(LOG_DIR, uid=0, gid=0, mode=0o755)
    out, err = refused(n, "--profile", "cks", "--json")
    errors = json.loads(out)["errors"]
    assert len(errors) == 1 and "uid 1203" in errors[0] and "--fix-ownership" in errors[0]
    assert errors[0] in err  # the same text on stderr
    code, _, err = cli("enable", "--root", str(n.root), "--profile", "cks", "--fix-ownership")
    assert code == 0, err
    st = n.real(LOG_DIR).stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (KAS_UID, KAS_GID, 0o700)
    pst = n.real(POLICY).stat()
    assert (pst.st_uid, pst.st_gid, pst.st_mode & 0o7777) == (0, KAS_GID, 0o640)


def test_enable_rootless_creates_the_missing_log_dir_with_the_right_owner(rootless_node: Node) -> None:
    n = rootless_node
    code, _, err = cli("enable", "--root", str(n.root), "--profile", "cks")
    assert code == 0, err
    st = n.real(LOG_DIR).stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (KAS_UID, KAS_GID, 0o700)


def test_enable_unbounded_retention_refused_unless_allowed(rootless_node: Node) -> None:
    n = rootless_node
    _, err = refused(n, "--profile", "cks", "--log-maxbackup", "0")
    assert "--audit-log-maxbackup is 0" in err and "--allow-unbounded" in err
    code, _, err = cli("enable", "--root", str(n.root), "--log-maxbackup", "0", "--allow-unbounded")
    assert code == 0, err
    assert "--audit-log-maxbackup is 0" in err  # still said, as a warning


def test_enable_absurd_budget_refused(rootless_node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    import kauditcfg.node.disk

    monkeypatch.setattr(kauditcfg.node.disk, "default_statvfs", FakeStatvfs(free_mb=20_000))
    _, err = refused(rootless_node, "--log-maxsize", "1000", "--log-maxbackup", "100")
    assert "101000 MB" in err and "20000 MB" in err


def test_enable_v1beta1_policy_file_refused(rootless_node: Node, tmp_path: Path) -> None:
    policy = tmp_path / "old-policy.yaml"
    policy.write_bytes(V1BETA1_POLICY)
    before = snapshot(rootless_node.root)
    code, _, err = cli("enable", "--root", str(rootless_node.root), "--policy-file", str(policy))
    assert code in (3, 4) and "v1beta1" in err
    assert snapshot(rootless_node.root) == before


def test_policy_path_that_is_a_directory_is_refused_not_crashed(tmp_path: Path) -> None:
    n = node(tmp_path)
    n.mkdir(POLICY)
    only_problem(preflight(n, manifest_text(), files=[]), POLICY, "is a directory")
