"""The transaction's contract as a user sees it: exit codes, one-line errors, JSON, limits, sandboxes."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kauditcfg.ops.transaction
from kauditcfg.cli import app
from kauditcfg.config.options import EnableOptions
from kauditcfg.hostfs import Host
from kauditcfg.ops import transaction
from kauditcfg.ops.enable import EnablePlanner
from tests.helpers import MANIFEST, tree_snapshot
from tests.ops.faults import Faulty, assert_consistent, leftovers, oserror, send

POLICY = "/etc/kubernetes/audit/policy.yaml"
runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def manifest_rename_step(sandbox) -> int:  # type: ignore[no-untyped-def]
    host = Host(sandbox())
    fs = Faulty(host.root)
    transaction.run(host, EnablePlanner(EnableOptions()), dry_run=False, fs=fs)
    shutil.rmtree(host.root)
    return fs.trace.index(("rename", MANIFEST))


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        (oserror(errno.ENOSPC), 6, "No space left on device (ENOSPC)"),
        (oserror(errno.EROFS), 6, "Read-only file system (EROFS)"),
        (send(signal.SIGTERM), 143, "interrupted by SIGTERM"),
        (send(signal.SIGINT), 130, "interrupted by SIGINT"),
    ],
)
def test_a_failed_manifest_rename_answers_in_json_and_changes_nothing(
    sandbox,
    monkeypatch: pytest.MonkeyPatch,
    fault,
    code: int,
    words: str,  # type: ignore[no-untyped-def]
) -> None:
    at = manifest_rename_step(sandbox)
    root = sandbox()
    before = tree_snapshot(root)
    monkeypatch.setattr(kauditcfg.ops.transaction, "FS", lambda r: Faulty(r, at, fault))
    code_, out, err = cli("enable", "--root", str(root), "--json")
    assert code_ == code
    line = one_line(err)
    assert words in line and "nothing changed" in line
    result = json.loads(out)
    assert result["changed"] is False and len(result["errors"]) == 1 and words in result["errors"][0]
    if code == 6:
        assert MANIFEST in line and "cannot rename" in line
    assert tree_snapshot(root) == before or leftovers(root) == []
    assert not (root / "etc/kubernetes/audit/policy.yaml").exists()
    assert_consistent(Host(root))


def test_root_that_is_a_file_is_an_io_error(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.write_text("not a directory")
    code, out, err = cli("enable", "--root", str(root), "--json")
    assert code == 6 and "Not a directory (ENOTDIR)" in one_line(err)
    assert json.loads(out)["errors"]


def test_backups_directory_that_is_a_file(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    (root / "var/lib/kauditcfg").mkdir(parents=True)
    (root / "var/lib/kauditcfg/backups").write_text("oops")
    before = tree_snapshot(root)
    code, _, err = cli("enable", "--root", str(root))
    line = one_line(err)
    assert code == 6 and "/var/lib/kauditcfg/backups/" in line and "Not a directory" in line
    assert tree_snapshot(root) == before


def test_state_file_that_is_a_directory_is_refused_before_any_change(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    (root / "var/lib/kauditcfg/state.json").mkdir(parents=True)
    before = tree_snapshot(root)
    code, _, err = cli("enable", "--root", str(root))
    assert code == 3 and "/var/lib/kauditcfg/state.json" in one_line(err)
    assert tree_snapshot(root) == before


@pytest.mark.parametrize("option", ["--manifest", "--policy-path", "--log-path"])
def test_dot_dot_escapes_are_usage_errors(sandbox, option: str) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    before = tree_snapshot(root)
    code, _, err = cli("enable", "--root", str(root), option, "/../../../etc/kubernetes/x/y.yaml")
    assert code == 2 and "climbs above /" in one_line(err) and option in err
    assert tree_snapshot(root) == before


@pytest.mark.parametrize("kind", ["dev-zero", "too-big", "fifo"])
def test_policy_file_must_be_a_small_regular_file(sandbox, tmp_path: Path, kind: str) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    if kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "too-big":
        path = tmp_path / "big.yaml"
        path.write_bytes(b"# x\n" * 300_000)
    else:
        path = tmp_path / "fifo"
        os.mkfifo(path)
    code, _, err = cli("enable", "--root", str(root), "--policy-file", str(path))
    line = one_line(err)
    assert code == 3 and str(path) in line
    assert ("1 MiB" in line) if kind == "too-big" else ("not a regular file" in line)


def test_values_file_limit(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    big = tmp_path / "values.yaml"
    big.write_bytes(b"a: b\n" * 300_000)
    code, _, err = cli("enable", "--root", str(sandbox()), "--values", str(big))
    assert code == 3 and "--values" in one_line(err) and "1 MiB" in err


def test_purge_keeps_a_hand_edited_policy_unless_forced(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    assert cli("enable", "--root", str(root))[0] == 0
    policy = root / POLICY.lstrip("/")
    policy.write_bytes(policy.read_bytes() + b"# my own rule notes\n")
    code, _, err = cli("disable", "--root", str(root), "--purge")
    assert code == 0 and "edited by hand" in err and "--force" in err
    assert policy.exists()
    assert cli("enable", "--root", str(root))[0] == 0
    policy.write_bytes(policy.read_bytes() + b"# again\n")
    assert cli("disable", "--root", str(root), "--purge", "--force")[0] == 0
    assert not policy.exists()


def test_purge_removes_an_unedited_policy(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    assert cli("enable", "--root", str(root))[0] == 0
    assert cli("disable", "--root", str(root), "--purge")[0] == 0
    assert not (root / POLICY.lstrip("/")).exists()


def test_fix_ownership_without_root_is_refused(sandbox, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    before = tree_snapshot(root)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, _, err = cli("enable", "--root", str(root), "--fix-ownership")
    assert code == 2 and "needs root" in one_line(err)
    assert tree_snapshot(root) == before


def test_interrupt_at_start_up_is_one_line(sandbox, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(EnablePlanner, "__post_init__", interrupted)
    code, out, err = cli("enable", "--root", str(sandbox()), "--json")
    assert code == 130 and "interrupted by SIGINT" in one_line(err)
    assert json.loads(out)["errors"]


def test_a_failed_run_leaves_the_last_good_backup_for_rollback(
    sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    original = (root / MANIFEST.lstrip("/")).read_bytes()
    assert cli("enable", "--root", str(root), "--profile", "cks")[0] == 0
    with monkeypatch.context() as patch:
        patch.setattr(kauditcfg.ops.transaction, "FS", lambda r: Faulty(r, 20, oserror(errno.ENOSPC)))
        assert cli("enable", "--root", str(root), "--profile", "cis")[0] == 6
    backups = sorted((root / "var/lib/kauditcfg/backups").iterdir())
    assert len(backups) == 1 and (backups[0] / "index.json").is_file()
    assert cli("rollback", "--root", str(root))[0] == 0
    assert (root / MANIFEST.lstrip("/")).read_bytes() == original


def test_non_root_sandbox_changes_no_owner_and_says_so(
    sandbox,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """CI jobs and image builds run --root as an ordinary user, where chown fails with EPERM."""
    root = sandbox()

    def eperm(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "chown", eperm)
    monkeypatch.setattr(os, "fchown", eperm)
    code, out, err = cli("enable", "--root", str(root), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert any("not running as root" in w and f"{POLICY} 0:0" in w for w in result["warnings"])
    assert {f["path"]: f["owner"] for f in result["files"]}[POLICY] == "0:0"
    assert_consistent(Host(root))
