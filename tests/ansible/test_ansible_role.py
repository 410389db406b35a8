"""The Ansible role, run by the real ansible-playbook on localhost against sandbox node roots.

Most runs go through the shipped `ansible/site.yml` (serial 1, max_fail_percentage 0), so what is
tested is what an operator runs.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.ansible.ansible_run import (
    ANSIBLE_DIR,
    ROLES,
    Run,
    ansible_env,
    local_host,
    playbook_runner,
    role_vars,
    tool,
)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "manifests"
MANIFEST = "etc/kubernetes/manifests/kube-apiserver.yaml"
POLICY = "etc/kubernetes/audit/policy.yaml"
SITE = ANSIBLE_DIR / "site.yml"
ADDED_FLAGS = [
    "--audit-log-maxage=30",
    "--audit-log-maxbackup=10",
    "--audit-log-maxsize=100",
    "--audit-log-path=/var/log/kubernetes/audit/audit.log",
    "--audit-policy-file=/etc/kubernetes/audit/policy.yaml",
]


def make_node(tmp_path: Path, name: str, manifest: str | bytes = "kubeadm-v1.30.4.yaml") -> Path:
    """A node root holding a kube-apiserver manifest (a fixture name, or the bytes themselves)."""
    root = tmp_path / name
    target = root / MANIFEST
    target.parent.mkdir(parents=True)
    target.write_bytes(manifest if isinstance(manifest, bytes) else (FIXTURES / manifest).read_bytes())
    return root


def snapshot(root: Path) -> dict[str, bytes | None]:
    paths = sorted(root.rglob("*"))
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in paths}


@pytest.fixture
def playbook(tmp_path: Path) -> Callable[..., Run]:
    return playbook_runner(tmp_path)


def site(playbook: Callable[..., Run], *nodes: str, args: tuple[str, ...] = (), **extra: object) -> Run:
    inventory = "[control_plane]\n" + "\n".join(nodes) + "\n"
    return playbook(SITE, inventory, role_vars(**extra), args)


def test_check_diff_shows_the_added_flags_and_writes_nothing(tmp_path: Path, playbook) -> None:  # type: ignore[no-untyped-def]
    root = make_node(tmp_path, "cp1")
    before = snapshot(root)
    run = site(playbook, local_host("cp1", root), args=("--check", "--diff"))
    assert run.rc == 0, run.out
    assert run.recap()["cp1"]["changed"] == 1, run.out
    # Ansible's own diff display: per file, before/after headers, then the unified diff
    assert f"--- before: /{MANIFEST}\n+++ after: /{MANIFEST}\n" in run.out
    assert f"--- before: /dev/null\n+++ after: /{POLICY}\n" in run.out
    for flag in ADDED_FLAGS:
        assert f"\n+    - {flag}\n" in run.out, flag
    assert "\n+    - mountPath: /var/log/kubernetes/audit\n" in run.out
    assert snapshot(root) == before  # no policy, no log directory, no backup


def test_real_run_enables_audit_and_second_run_changes_nothing(tmp_path: Path, playbook) -> None:  # type: ignore[no-untyped-def]
    root = make_node(tmp_path, "cp1")
    original = (root / MANIFEST).read_bytes()
    host = local_host("cp1", root)

    first = site(playbook, host)
    assert first.rc == 0, first.out
    assert first.recap()["cp1"]["changed"] == 1, first.out
    text = (root / MANIFEST).read_text()
    for flag in ADDED_FLAGS:
        assert f"    - {flag}\n" in text
    assert (root / POLICY).read_text().startswith("# Audit policy rendered by kauditcfg")
    assert stat.S_IMODE((root / POLICY).stat().st_mode) == 0o600
    assert (root / "var/log/kubernetes/audit").is_dir()
    # the only lines that differ are the ones kauditcfg added
    removed = set(original.decode().splitlines()) - set(text.splitlines())
    assert removed == set()

    after_first = snapshot(root)
    second = site(playbook, host, args=("--diff",))
    assert second.rc == 0, second.out
    assert second.recap()["cp1"]["changed"] == 0, second.out
    assert "+++ after:" not in second.out
    assert snapshot(root) == after_first

    preview = site(playbook, host, args=("--check", "--diff"))
    assert preview.recap()["cp1"]["changed"] == 0, preview.out


def test_broken_manifest_fails_the_play_with_kauditcfgs_message(tmp_path: Path, playbook) -> None:  # type: ignore[no-untyped-def]
    root = make_node(tmp_path, "cp1", b"apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n")
    before = snapshot(root)
    run = site(playbook, local_host("cp1", root))
    assert run.rc == 2, run.out  # ansible-playbook: a host failed
    assert run.recap()["cp1"]["failed"] == 1, run.out
    said = f"kauditcfg enable failed (exit 3: invalid input; nothing written): /{MANIFEST}: invalid YAML"
    assert said in run.out
    assert snapshot(root) == before


def test_serial_rollout_stops_at_the_first_failing_node(tmp_path: Path, playbook) -> None:  # type: ignore[no-untyped-def]
    """serial: 1 and max_fail_percentage: 0: the node after a failed one is never touched."""
    broken = make_node(tmp_path, "cp1", b"apiVersion: v1\nkind: Pod\n")  # no kube-apiserver container
    healthy = make_node(tmp_path, "cp2")
    untouched = snapshot(healthy)
    run = site(playbook, local_host("cp1", broken), local_host("cp2", healthy))
    assert run.rc != 0, run.out
    assert run.recap()["cp1"]["failed"] == 1, run.out
    assert "cp2" not in run.recap() or run.recap()["cp2"]["changed"] == 0, run.out
    assert snapshot(healthy) == untouched


def test_disabled_gives_back_the_original_bytes(tmp_path: Path, playbook) -> None:  # type: ignore[no-untyped-def]
    root = make_node(tmp_path, "cp1", "kubeadm-v1.29.6-comments.yaml")
    original = (root / MANIFEST).read_bytes()
    host = local_host("cp1", root)
    enabled = site(
        playbook,
        host,
        kauditcfg_values={"silence_namespaces": ["kube-system", "monitoring"]},
        kauditcfg_log_maxage=60,
    )
    assert enabled.rc == 0, enabled.out
    assert "    - --audit-log-maxage=60\n" in (root / MANIFEST).read_text()
    assert 'namespaces: ["kube-system", "monitoring"]' in (root / POLICY).read_text()

    preview = site(playbook, host, args=("--check", "--diff"), kauditcfg_state="disabled")
    assert preview.recap()["cp1"]["changed"] == 1, preview.out
    assert "\n-    - --audit-policy-file=/etc/kubernetes/audit/policy.yaml\n" in preview.out
    assert (root / MANIFEST).read_bytes() != original

    run = site(playbook, host, kauditcfg_state="disabled")
    assert run.rc == 0, run.out
    assert run.recap()["cp1"]["changed"] == 1, run.out
    assert (root / MANIFEST).read_bytes() == original
    again = site(playbook, host, kauditcfg_state="disabled")
    assert again.recap()["cp1"]["changed"] == 0, again.out


def _check_play(tmp_path: Path) -> Path:
    """The role in state=checked, then its facts saved where the test can read them."""
    play = tmp_path / "check.yml"
    facts = tmp_path / "facts.json"
    play.write_text(
        "- name: Sweep\n  hosts: all\n  gather_facts: false\n"
        "  roles: [{role: kauditcfg, kauditcfg_state: checked}]\n"
        "  post_tasks:\n"
        "    - name: Save the facts\n"
        "      ansible.builtin.copy:\n"
        f"        dest: {facts}\n"
        "        content: '{{ {\"findings\": kauditcfg_findings, \"cis\": kauditcfg_cis} | to_json }}'\n"
        "        mode: '0600'\n"
        "      check_mode: false\n"
        "      changed_when: false\n"
    )
    return play


def test_checked_records_findings_and_fails_at_fail_on(tmp_path: Path, playbook) -> None:  # type: ignore[no-untyped-def]
    play = _check_play(tmp_path)
    # An unaudited kubeadm node: auditing off is high, so the sweep fails it at the default.
    bare = make_node(tmp_path, "cp1")
    before = snapshot(bare)
    failing = playbook(play, local_host("cp1", bare) + "\n", role_vars(kauditcfg_fail_on="high"))
    assert failing.rc == 2, failing.out
    assert failing.recap()["cp1"]["failed"] == 1, failing.out
    assert "finding(s) at or above high: [high] audit-disabled:" in failing.out
    assert snapshot(bare) == before

    # The same node after `kauditcfg enable --profile cks`: nothing high, the sweep passes and
    # records the findings and the CIS block as facts.
    audited = make_node(tmp_path, "cp2")
    enabled = subprocess.run(
        [sys.executable, "-m", "kauditcfg", "enable", "--root", str(audited), "--profile", "cks"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert enabled.returncode == 0, enabled.stderr
    inventory = local_host("cp2", audited) + "\n"
    passing = playbook(play, inventory, role_vars(kauditcfg_fail_on="high"), ("--check",))
    assert passing.rc == 0, passing.out
    assert passing.recap()["cp2"]["changed"] == 0, passing.out
    facts = json.loads((tmp_path / "facts.json").read_text())
    assert all(f["severity"] != "high" for f in facts["findings"]), facts["findings"]
    assert facts["cis"]["1.2.16"]["result"] == "pass"


def test_checked_names_the_high_findings_of_a_hand_made_setup(tmp_path: Path, playbook) -> None:  # type: ignore[no-untyped-def]
    root = make_node(tmp_path, "cp1", "hand-half-audit-v1.27.8.yaml")
    run = playbook(_check_play(tmp_path), local_host("cp1", root) + "\n", role_vars())
    assert run.rc == 2, run.out
    assert "kauditcfg check: 3 finding(s) at or above high: [high] log-without-policy:" in run.out
    assert "[high] path-not-mounted:" in run.out
    assert "rotation-maxage" not in run.out.split("FAILED!")[1]  # medium: recorded, not failing


FAKE_CLI = """#!{python}
import json, sys
with open({log!r}, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
print(json.dumps({{"changed": False, "files": [], "diff": [], "warnings": {warnings}, "errors": {errors}}}))
sys.exit({rc})
"""


def fake_cli(
    tmp_path: Path, rc: int = 0, errors: tuple[str, ...] = (), warnings: tuple[str, ...] = ()
) -> Path:
    """A stand-in executable that records its argv: to see the command lines the role builds."""
    path = tmp_path / "fake-kauditcfg"
    log = tmp_path / "argv.jsonl"
    path.write_text(
        FAKE_CLI.format(
            python=sys.executable, log=str(log), rc=rc, errors=list(errors), warnings=list(warnings)
        )
    )
    path.chmod(0o755)
    return path


def recorded(tmp_path: Path) -> list[list[str]]:
    return [json.loads(line) for line in (tmp_path / "argv.jsonl").read_text().splitlines()]


def test_every_variable_reaches_the_command_line(tmp_path: Path, playbook) -> None:  # type: ignore[no-untyped-def]
    root = make_node(tmp_path, "cp1")
    run = site(
        playbook,
        local_host("cp1", root),
        args=("--check",),
        kauditcfg_executable=str(fake_cli(tmp_path, warnings=("adopted the existing log path",))),
        kauditcfg_profile="cis",
        kauditcfg_values={
            "silence_namespaces": ["kube-system", "monitoring"],
            "write_level": "RequestResponse",
        },
        kauditcfg_wait=True,
        kauditcfg_wait_timeout=180,
        kauditcfg_kubeconfig="/etc/kubernetes/admin.conf",
        kauditcfg_log_maxage=60,
        kauditcfg_log_path="/var/log/audit/kube.log",
        kauditcfg_webhook_url="https://siem.example.internal:8443/audit",
        kauditcfg_webhook_ca="/etc/kubernetes/audit/siem-ca.crt",
        kauditcfg_webhook_token_file="/etc/kubernetes/audit/siem.token",
        kauditcfg_webhook_mode="batch",
        kauditcfg_extra_args=["--log-compress"],
    )
    assert run.rc == 0, run.out
    assert "[WARNING]: adopted the existing log path" in run.out
    [argv] = recorded(tmp_path)
    assert argv == [
        "enable", "--json", "--profile", "cis", "--root", str(root),
        "--set", 'silence_namespaces=["kube-system", "monitoring"]', "--set", "write_level=RequestResponse",
        "--log-path=/var/log/audit/kube.log", "--log-maxage=60",
        "--webhook-url=https://siem.example.internal:8443/audit",
        "--webhook-ca=/etc/kubernetes/audit/siem-ca.crt",
        "--webhook-token-file=/etc/kubernetes/audit/siem.token", "--webhook-mode=batch",
        "--wait", "--timeout", "180", "--kubeconfig", "/etc/kubernetes/admin.conf",
        "--log-compress", "--dry-run",
    ]  # fmt: skip


def test_defaults_pass_no_optional_option(tmp_path: Path, playbook) -> None:  # type: ignore[no-untyped-def]
    """Empty webhook and rotation variables add nothing, so a CLI without those options still runs."""
    root = make_node(tmp_path, "cp1")
    fake = str(fake_cli(tmp_path))
    for state in ("enabled", "disabled", "checked"):
        run = site(playbook, local_host("cp1", root), kauditcfg_executable=fake, kauditcfg_state=state)
        assert run.rc == 0, run.out
    assert recorded(tmp_path) == [
        ["enable", "--json", "--profile", "cks", "--root", str(root)],
        ["disable", "--json", "--root", str(root)],
        ["check", "--json", "--fail-on", "high", "--root", str(root)],
    ]


@pytest.mark.parametrize(
    ("rc", "meaning"),
    [
        (4, "preflight refused: the change would stop kube-apiserver; nothing written"),
        (5, "kube-apiserver did not become ready; the previous files were restored"),
        (6, "I/O failure; every step already done was undone"),
    ],
)
def test_a_failed_run_says_what_happened_to_the_node(tmp_path: Path, playbook, rc: int, meaning: str) -> None:  # type: ignore[no-untyped-def]
    root = make_node(tmp_path, "cp1")
    fake = fake_cli(tmp_path, rc=rc, errors=("/var/log/kubernetes/audit: what went wrong",))
    run = site(playbook, local_host("cp1", root), kauditcfg_executable=str(fake))
    assert run.rc == 2, run.out
    said = f"kauditcfg enable failed (exit {rc}: {meaning}): /var/log/kubernetes/audit: what went wrong"
    assert said in run.out


def test_a_missing_executable_is_named(tmp_path: Path, playbook) -> None:  # type: ignore[no-untyped-def]
    root = make_node(tmp_path, "cp1")
    run = site(playbook, local_host("cp1", root), kauditcfg_executable=str(tmp_path / "nowhere/kauditcfg"))
    assert run.rc == 2, run.out
    assert "kauditcfg enable failed (exit 127: the kauditcfg executable was not found" in run.out


def test_output_that_is_not_json_fails_with_its_last_line(tmp_path: Path, playbook) -> None:  # type: ignore[no-untyped-def]
    """A crash prints a traceback and no JSON: the host fails naming the error, never a template error."""
    root = make_node(tmp_path, "cp1")
    crash = tmp_path / "crashing-kauditcfg"
    crash.write_text(f"#!{sys.executable}\nraise RuntimeError('boom in kauditcfg')\n")
    crash.chmod(0o755)
    run = site(playbook, local_host("cp1", root), kauditcfg_executable=str(crash))
    assert run.rc == 2, run.out
    said = "kauditcfg enable failed (exit 1: no JSON result on stdout): RuntimeError: boom in kauditcfg"
    assert said in run.out


def _lint(cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("ansible-lint")), "--nocolor"],
        cwd=cwd,
        env=ansible_env(tmp_path / "lint-home"),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ansible_lint_production_profile_passes_offline(tmp_path: Path) -> None:
    (tmp_path / "lint-home").mkdir()
    lint = _lint(ANSIBLE_DIR, tmp_path)
    out = lint.stdout + lint.stderr
    assert lint.returncode == 0, out
    assert "Profile 'production' was required, and it passed" in out
    # the role itself was linted, not an empty selection
    copy = tmp_path / "ansible"
    shutil.copytree(ANSIBLE_DIR, copy)
    with (copy / "roles/kauditcfg/tasks/disabled.yml").open("a") as tasks:
        tasks.write("- name: A command that always reports a change\n  ansible.builtin.command: /bin/true\n")
    bad = _lint(copy, tmp_path)
    assert bad.returncode != 0
    assert "no-changed-when" in bad.stdout + bad.stderr
    assert (ROLES / "kauditcfg/meta/argument_specs.yml").is_file()


def test_install_from_a_wheel_into_its_virtualenv(tmp_path: Path, playbook) -> None:  # type: ignore[no-untyped-def]
    """kauditcfg_install: the wheel is copied, the virtualenv made, and a second run installs nothing.

    pip runs offline (`--no-deps --no-index`): the dependencies are this virtualenv's business, and
    the run itself uses this virtualenv's CLI, so the test neither downloads nor waits on an index.
    """
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*pip, "-w", str(dist), str(REPO)],
        check=True,
        capture_output=True,
    )
    [wheel] = dist.glob("kauditcfg-*.whl")
    venv = tmp_path / "opt-kauditcfg"
    root = make_node(tmp_path, "cp1")
    host = local_host("cp1", root)
    install = {
        "kauditcfg_install": True,
        "kauditcfg_wheel": str(wheel),
        "kauditcfg_venv": str(venv),
        "kauditcfg_install_python": str(Path(sys.base_prefix) / "bin" / "python3"),
        "kauditcfg_pip_extra_args": ["--no-deps", "--no-index"],
    }

    installed = str(venv / "bin/kauditcfg")
    preview = site(playbook, host, args=("--check",), **install, kauditcfg_executable=installed)
    assert preview.rc == 0, preview.out
    assert "is not installed yet: a real run installs it; check mode cannot preview" in preview.out
    assert not venv.exists()

    first = site(playbook, host, **install)
    assert first.rc == 0, first.out
    assert (venv / "bin/kauditcfg").is_file()
    assert list(venv.glob("lib/python*/site-packages/kauditcfg-*.dist-info"))
    assert (root / POLICY).is_file()
    second = site(playbook, host, **install)
    assert second.rc == 0, second.out
    assert second.recap()["cp1"]["changed"] == 0, second.out
