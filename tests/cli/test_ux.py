"""What a person sees: the stream each line goes to, exit codes, help at 80 columns, errors and hints."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kauditcfg.cli import app
from tests.helpers import MANIFEST, REPO, tree_snapshot

INVALID = REPO / "fixtures" / "invalid-pods"
POLICY = "/etc/kubernetes/audit/policy.yaml"
COMMANDS = ["enable", "diff", "disable", "rollback", "check", "profiles list", "profiles show"]


def hint_of(report: str) -> str:
    """The report's `hint:` paragraph, unwrapped."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("hint: "))
    end = lines.index("", start)
    return " ".join(line.strip() for line in lines[start:end])


def cli(*args: str, columns: int = 80, **env: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns), "NO_COLOR": "", **env})
    return res.exit_code, res.stdout, res.stderr


def manifest_of(root: Path) -> Path:
    return root / MANIFEST.lstrip("/")


# --- §1 streams ----------------------------------------------------------------------------------


def test_check_report_is_on_stdout_and_reads_like_kube_bench(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    code, out, err = cli("check", "--root", str(root))
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert "[FAIL] 1.2.17 Ensure that the --audit-log-maxage argument is set to 30 or as appropriate" in lines
    after = lines[lines.index("[FAIL] 1.2.17 Ensure that the --audit-log-maxage argument is set to 30 or as "
                              "appropriate") + 1 :]  # fmt: skip
    assert after[0].split() == ["MEDIUM", "not", "set"]
    assert after[1].startswith("       Remediation: Edit /etc/kubernetes/manifests/kube-apiserver.yaml")
    assert "0 pass, 7 fail, 0 warn" in lines
    assert lines[-1] == "verdict: FAIL: 3 high, 4 medium, 1 low (7 at or above --fail-on medium)"
    # prose wraps at 80 columns; a control's title and a finding stay one greppable line, as kube-bench's
    prose = [line for line in lines if not line.lstrip().startswith(("[", "HIGH", "MEDIUM", "LOW"))]
    assert prose and all(len(line) <= 80 for line in prose)


def test_audit_off_is_high_so_the_strictest_gate_fails(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    code, out, _ = cli("check", "--root", str(root), "--fail-on", "HIGH", "--json")
    assert code == 1
    findings = {f["id"]: f["severity"] for f in json.loads(out)["findings"]}
    assert findings["audit-disabled"] == "high"
    assert {findings[k] for k in ("cis-1.2.16", "cis-3.2.1")} == {"high"}
    assert findings["cis-1.2.17"] == "medium"
    # the hint keeps --root and names every change enable would make
    hint = hint_of(cli("check", "--root", str(root))[1])
    assert f"kauditcfg diff --root {root} --profile cks shows every change and writes nothing" in hint
    assert "/etc/kubernetes/audit/policy.yaml" in hint and "/var/log/kubernetes/audit/audit.log" in hint


def test_fail_on_has_one_default_for_check_and_lint_in_any_case(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "p.yaml"
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
    # one medium lint finding (RequestReceived not omitted): the shared default (medium) fails on it
    assert cli("policy", "lint", str(policy))[0] == 1
    assert cli("policy", "lint", str(policy), "--fail-on", "HIGH")[0] == 0
    assert cli("policy", "lint", str(policy), "--fail-on", "Medium")[0] == 1
    code, _, err = cli("policy", "lint", str(policy), "--fail-on", "severe")
    assert code == 2 and err == "kauditcfg: error: --fail-on 'severe': choose high, medium or low\n"
    code, _, err = cli("check", "--root", str(sandbox()), "--fail-on", "severe")
    assert code == 2 and err == "kauditcfg: error: --fail-on 'severe': choose high, medium or low\n"
    for command in (["check"], ["policy", "lint"]):
        assert "[default: medium]" in cli(*command, "--help", columns=200)[1]


def test_enable_summary_on_stdout_notes_on_stderr(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    code, out, err = cli("enable", "--root", str(root), "--log-maxage", "45")
    assert code == 0
    assert out.splitlines() == [
        f"  created  {POLICY}",
        f" modified  {MANIFEST}",
        "     done  mkdir /var/log/kubernetes/audit owner 0:0 mode 0700",
        f"in force: profile cks; policy {POLICY}; log /var/log/kubernetes/audit/audit.log "
        "(45 days, 10 files, 100 MB)",
    ]
    backup = next((root / "var/lib/kauditcfg/backups").iterdir())
    # the real backup path and an undo that keeps --root; no restart claim off a real node
    assert f"backup of the replaced files: {backup} (undo with: kauditcfg rollback --root {root})" in err
    assert "will restart kube-apiserver now" not in err
    code, out, _ = cli("enable", "--root", str(root), "--log-maxage", "45")
    assert code == 0 and out.splitlines()[0] == "nothing to change"
    code, out, err = cli("rollback", "--root", str(root))
    assert code == 0 and f" modified  {MANIFEST}" in out and "restored from" in err


def test_enable_with_own_policy_names_it_in_force(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mine = tmp_path / "mine.yaml"
    mine.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
    code, out, _ = cli("enable", "--root", str(sandbox()), "--policy-file", str(mine))
    assert code == 0 and f"in force: your policy {mine}; policy {POLICY}; log " in out


def test_json_is_one_object_on_stdout(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    for args in (["enable"], ["check"], ["rollback"]):
        out = cli(*args, "--root", str(root), "--json")[1]
        assert isinstance(json.loads(out), dict), args
    assert isinstance(json.loads(cli("profiles", "list", "--json")[1]), list)


def test_colour_follows_color_option(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    out = cli("check", "--root", str(root), "--color", "always")[1]
    assert "\x1b[31m[FAIL]\x1b[0m 1.2.16" in out
    assert "\x1b[" not in cli("check", "--root", str(root), "--color", "never")[1]
    assert "\x1b[" not in cli("check", "--root", str(root))[1]  # not a terminal
    code, _, err = cli("check", "--root", str(root), "--color", "sometimes")
    assert code == 2 and "--color 'sometimes': choose auto, always or never" in err


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """stdout of the installed kauditcfg run on a pseudo-terminal."""
    exe = shutil.which("kauditcfg", path=str(Path(sys.executable).parent))
    assert exe, "kauditcfg is not installed next to the test interpreter"
    primary, secondary = pty.openpty()
    proc = subprocess.run([exe, *args], stdout=secondary, stderr=subprocess.DEVNULL,
                          env={**os.environ, **env}, timeout=120, check=False)  # fmt: skip
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert proc.returncode == 1
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_unless_no_color(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = str(sandbox())
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "\x1b[31m" in _on_a_terminal(["check", "--root", root], {**env, "NO_COLOR": ""})
    assert "\x1b[" not in _on_a_terminal(["check", "--root", root], {"NO_COLOR": "1"})


# --- §2 an invalid Pod is never healthy -------------------------------------------------------------


def test_check_reports_a_pod_the_kubelet_refuses_as_high(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox(INVALID / "volume-without-name-v1.30.4.yaml")
    code, out, _ = cli("check", "--root", str(root), "--json", "--fail-on", "high")
    assert code == 1
    invalid = [f for f in json.loads(out)["findings"] if f["id"] == "pod-invalid"]
    assert [f["severity"] for f in invalid] == ["high", "high"]
    assert invalid[0]["message"].startswith(f"{MANIFEST}:101: spec.volumes[0]: a volume without `name`")
    assert "spec.containers[0].volumeMounts[0].name: mounts volume 'ca-certs'" in invalid[1]["message"]


def test_enable_refuses_a_pod_that_cannot_start(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox(INVALID / "volume-without-name-v1.30.4.yaml")
    before = tree_snapshot(root)
    code, out, err = cli("enable", "--root", str(root))
    assert code == 3 and out == ""
    assert err.startswith(f"kauditcfg: error: {MANIFEST}:101: spec.volumes[0]: a volume without `name`")
    assert "kubelet" in err and "restart" not in err
    assert tree_snapshot(root) == before


def test_unknown_pod_field_is_medium_with_its_line(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox(INVALID / "mount-typo-v1.30.4.yaml")
    out = cli("check", "--root", str(root), "--json")[1]
    typo = [f for f in json.loads(out)["findings"] if f["id"] == "pod-unknown-field"]
    assert typo == [
        {
            "id": "pod-unknown-field",
            "severity": "medium",
            "message": f"{MANIFEST}:81: spec.containers[0].volumeMounts[0].readOlny: unknown field "
            "'readOlny': the kubelet drops it silently; did you mean readOnly?",
            "path": MANIFEST,
        }
    ]
    # enable still works (the kubelet starts the pod), and check keeps saying it
    assert cli("enable", "--root", str(root))[0] == 0
    assert "readOlny" in cli("check", "--root", str(root))[1]


def test_hint_for_a_hand_made_setup_keeps_its_policy_and_log(tmp_path: Path, sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    own = tmp_path / "own.yaml"
    own.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n"
                   "- level: Metadata\n")  # fmt: skip
    args = ["--root", str(root), "--policy-file", str(own), "--policy-path", "/etc/kubernetes/pol.yaml"]
    assert cli("enable", *args, "--log-path", "/var/log/apiserver/audit.log", "--log-maxage", "7")[0] == 0
    hint = hint_of(cli("check", "--root", str(root))[1])
    local = root / "etc/kubernetes/pol.yaml"
    expected = (
        f"--root {root} --policy-file {local} --policy-path /etc/kubernetes/pol.yaml "
        "--log-path /var/log/apiserver/audit.log --log-maxage 30 --log-maxbackup 10 --log-maxsize 100"
    )
    assert f"kauditcfg diff {expected} shows every change" in hint
    assert "config-hash annotation" in hint
    # following the hint changes only the rotation flag: the policy and the log path stay
    before = manifest_of(root).read_text()
    assert cli("enable", *expected.split())[0] == 0
    after = manifest_of(root).read_text()
    changed = [line.strip() for line in after.splitlines() if line not in before.splitlines()]
    assert len(changed) == 2 and changed[0].startswith("kauditcfg.io/config-hash: ")
    assert changed[1] == "- --audit-log-maxage=30"
    assert (root / "etc/kubernetes/pol.yaml").read_text() == own.read_text()


# --- §3 help at 80 columns -----------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_help_reads_at_80_columns(command: str) -> None:
    code, out, _ = cli(*command.split(), "--help")
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in out  # nothing cut
    assert "<bool>" not in out and "list[str]" not in out
    examples = [line.strip() for line in lines if line.strip().startswith("$ kauditcfg")]
    assert 2 <= len(examples) <= 3, examples


def test_enable_help_has_panels_and_metavars() -> None:
    out = cli("enable", "--help")[1]
    for panel in ("Paths", "Policy", "Log backend", "Safety", "Output"):
        assert re.search(rf"╭─ {panel} ─", out), panel
    metavars = {"--set": "KEY=VALUE", "--log-maxage": "DAYS", "--log-maxsize": "MB",
                "--kubernetes-version": "X.Y", "--policy-file": "FILE", "--manifest": "PATH"}  # fmt: skip
    for option, metavar in metavars.items():
        assert re.search(rf"{re.escape(option)}\s+{re.escape(metavar)}\s", out), option
    assert re.search(r"│ --dry-run\s{3,}Print the diff", out)  # a flag shows no metavar
    assert "/etc/kubernetes/manifests/kube-apiserver.yaml]" in out  # the default, whole


def test_shell_completion_is_available() -> None:
    code, out, _ = cli("--help")
    assert code == 0 and "--install-completion" in out and "--show-completion" in out


# --- §6 errors and hints ----------------------------------------------------------------------------


def test_bad_policy_file_names_the_users_file_and_exits_3(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- level: Metadata\n")
    before = tree_snapshot(root)
    code, out, err = cli("enable", "--root", str(root), "--policy-file", str(bad))
    assert code == 3 and out == ""
    assert err.startswith(f"kauditcfg: error: {bad}: ") and POLICY not in err
    assert tree_snapshot(root) == before


def test_nonexistent_root_is_named(tmp_path: Path) -> None:
    for command in ("check", "enable", "diff", "disable", "rollback"):
        code, out, err = cli(command, "--root", str(tmp_path / "nowhere"))
        assert (code, out) == (2, ""), command
        nowhere = tmp_path / "nowhere"
        assert err == f"kauditcfg: error: --root {nowhere}: no such directory; give the directory that " \
                      "holds the node's files\n"  # fmt: skip


def test_usage_errors_have_the_one_prefix_and_no_box() -> None:
    code, _, err = cli("enable", "--no-such-flag")
    assert code == 2
    assert err == "kauditcfg: error: No such option: --no-such-flag (see kauditcfg enable --help)\n"
    code, _, err = cli("frobnicate")
    assert code == 2 and err.startswith("kauditcfg: error: No such command") and "╭" not in err


def test_set_unknown_key_suggests_and_malformed_set_both_exit_2(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = str(sandbox())
    code, _, err = cli("enable", "--root", root, "--set", "silence_namespace=monitoring")
    assert code == 2 and "did you mean silence_namespaces?" in err
    assert err.startswith("kauditcfg: error: --set silence_namespace: profile cks has no parameter")
    code, _, err = cli("enable", "--root", root, "--set", "novalue")
    assert code == 2 and err == "kauditcfg: error: --set 'novalue': expected KEY=VALUE\n"
    code, _, err = cli("policy", "render", "--profile", "cis", "--set", "write_levl=Request")
    assert code == 2 and "did you mean write_level?" in err


def test_relative_manifest_is_taken_from_the_current_directory_everywhere(sandbox, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    monkeypatch.chdir(root)
    relative = MANIFEST.lstrip("/")
    for command, expected in (("diff", 1), ("check", 1), ("enable", 0), ("diff", 0), ("disable", 0),
                              ("rollback", 0)):  # fmt: skip
        code, _, err = cli(command, "--root", ".", "--manifest", relative)
        assert code == expected, (command, err)
    monkeypatch.chdir(root.parent)
    for command in ("diff", "check", "enable", "disable", "rollback"):
        code, _, err = cli(command, "--root", str(root), "--manifest", "kube-apiserver.yaml")
        assert code == 2, command
        assert err.startswith("kauditcfg: error: --manifest kube-apiserver.yaml: a relative path is taken "
                              "from the current directory and must lie under --root")  # fmt: skip


def test_pod_schema_table_is_the_kubernetes_clients() -> None:
    """data/pod_schema.json is what tools/gen_pod_schema.py derives from the installed client."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_pod_schema", REPO / "tools" / "gen_pod_schema.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = json.loads((REPO / "kauditcfg" / "data" / "pod_schema.json").read_text())
    assert shipped["models"] == module.pod_schema()["models"], "run tools/gen_pod_schema.py"
    assert shipped["models"]["V1VolumeMount"]["readOnly"] == "bool"
