"""`rollback --list`, `rollback --to TIME` and `--keep-backups`, as a person sees them on a sandbox root."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from kauditcfg.cli import app
from tests.helpers import MANIFEST, tree_snapshot

POLICY = "/etc/kubernetes/audit/policy.yaml"
BACKUPS = "var/lib/kauditcfg/backups"
runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def read(root: Path, host_path: str) -> bytes | None:
    path = root / host_path.lstrip("/")
    return path.read_bytes() if path.exists() else None


def backup_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in (root / BACKUPS).iterdir())


def enable_then_disable(root: Path) -> None:
    assert cli("enable", "--root", str(root), "--profile", "cks")[0] == 0
    assert cli("disable", "--root", str(root), "--purge")[0] == 0


def test_list_shows_time_command_and_files_newest_first_on_stdout(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    enable_then_disable(root)
    older, newer = backup_dirs(root)
    code, out, err = cli("rollback", "--root", str(root), "--list")
    assert code == 0, err
    lines = out.splitlines()
    assert re.fullmatch(rf"{newer}  \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC  disable", lines[0])
    assert sorted(lines[1:3]) == [f"    restore  {POLICY}", f"    restore  {MANIFEST}"]
    assert re.fullmatch(rf"{older}  .* UTC  enable", lines[3])
    # enable created the policy: going back to before it removes it
    assert sorted(lines[4:6]) == [f"    remove   {POLICY}", f"    restore  {MANIFEST}"]
    assert len(lines) == 6
    assert "2 backups in " in err
    assert f"kauditcfg rollback --root {root} --to NAME" in err  # the hint keeps the user's --root


def test_list_json_is_one_object(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    enable_then_disable(root)
    code, out, _ = cli("rollback", "--root", str(root), "--list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [b["command"] for b in listed["backups"]] == ["disable", "enable"]
    assert [b["name"] for b in listed["backups"]] == backup_dirs(root)[::-1]
    enable = listed["backups"][1]
    assert enable["path"] == f"/{BACKUPS}/{enable['name']}"
    assert {f["path"]: (f["existed"], f["rollback"]) for f in enable["files"]} == {
        MANIFEST: (True, "restore"),
        POLICY: (False, "remove"),
    }
    assert listed["warnings"] == [] and listed["errors"] == []


def test_list_changes_nothing_and_says_when_there_is_no_backup(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    before = tree_snapshot(root)
    code, out, err = cli("rollback", "--root", str(root), "--list")
    assert (code, out) == (0, "")
    assert "no backups in " in err
    code, out, _ = cli("rollback", "--root", str(root), "--list", "--json")
    assert code == 0 and json.loads(out)["backups"] == []
    assert tree_snapshot(root) == before


def test_list_names_what_is_not_a_backup_and_leaves_it(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    assert cli("enable", "--root", str(root))[0] == 0
    (root / BACKUPS / "before-upgrade").mkdir()
    code, out, err = cli("rollback", "--root", str(root), "--list")
    assert code == 0 and "before-upgrade" not in out
    assert f"/{BACKUPS}/before-upgrade: not a complete kauditcfg backup" in err


def test_rollback_to_restores_the_chosen_backup(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    original = read(root, MANIFEST)
    assert cli("enable", "--root", str(root), "--profile", "cks")[0] == 0
    assert cli("enable", "--root", str(root), "--profile", "cis")[0] == 0
    cis = (read(root, MANIFEST), read(root, POLICY))
    first = json.loads(cli("rollback", "--root", str(root), "--list", "--json")[1])["backups"][-1]

    code, out, err = cli("rollback", "--root", str(root), "--to", first["name"], "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["changed"] is True and result["restored_from"] == first["path"]
    assert read(root, MANIFEST) == original and read(root, POLICY) is None
    # the restore is a change of its own: listed, and a plain rollback undoes it
    assert result["backup"] is not None and result["backup"].endswith(backup_dirs(root)[-1])
    code, out, _ = cli("rollback", "--root", str(root), "--list")
    assert out.splitlines()[0].endswith(f"rollback --to {first['name']}")
    assert cli("rollback", "--root", str(root))[0] == 0
    assert (read(root, MANIFEST), read(root, POLICY)) == cis


def test_rollback_to_accepts_the_time_as_listed(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    original = read(root, MANIFEST)
    assert cli("enable", "--root", str(root))[0] == 0
    header = cli("rollback", "--root", str(root), "--list")[1].splitlines()[0]
    listed_time = header.split("  ")[1]  # "2026-11-25 16:29:30 UTC"
    code, _, err = cli("rollback", "--root", str(root), "--to", listed_time)
    assert code == 0, err
    assert read(root, MANIFEST) == original


def test_rollback_to_an_unknown_time_is_a_usage_error(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    assert cli("enable", "--root", str(root))[0] == 0
    before = tree_snapshot(root)
    code, out, err = cli("rollback", "--root", str(root), "--to", "1999-01-01")
    assert code == 2 and out == ""
    assert err.startswith("kauditcfg: error: --to '1999-01-01': no backup of that name or time")
    assert f"kauditcfg rollback --list --root {root}" in err
    code, out, _ = cli("rollback", "--root", str(root), "--to", "nope", "--json")
    assert code == 2 and "no backup of that name" in json.loads(out)["errors"][0]
    assert tree_snapshot(root) == before


def test_rollback_to_an_ambiguous_prefix_names_the_candidates(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    enable_then_disable(root)
    before = tree_snapshot(root)
    code, _, err = cli("rollback", "--root", str(root), "--to", backup_dirs(root)[0][:4])
    assert code == 2
    assert "matches 2 backups" in err and all(name in err for name in backup_dirs(root))
    assert tree_snapshot(root) == before


def test_list_and_to_together_is_a_usage_error(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    code, out, _ = cli("rollback", "--root", str(root), "--list", "--to", "2026", "--json")
    assert code == 2 and json.loads(out) == {"backups": [], "errors": [json.loads(out)["errors"][0]]}


def test_keep_backups_prunes_after_each_change(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    (root / BACKUPS).mkdir(parents=True)
    (root / BACKUPS / "before-upgrade").mkdir()  # a person's own copy: never pruned
    (root / BACKUPS / "20200101T000000.000000Z").mkdir()  # no index.json: never pruned
    made = []
    for _ in range(3):
        for command in (["enable"], ["disable"]):
            code, out, _ = cli(*command, "--root", str(root), "--keep-backups", "2", "--json")
            assert code == 0
            made.append(json.loads(out)["backup"].rsplit("/", 1)[1])
    assert backup_dirs(root) == sorted([*made[-2:], "20200101T000000.000000Z", "before-upgrade"])
    code, out, err = cli("enable", "--root", str(root), "--keep-backups", "1")
    assert code == 0
    assert f"removed old backup /{BACKUPS}/{made[-1]}" in err
    assert len([d for d in backup_dirs(root) if d.startswith("2026")]) == 1


def test_ten_backups_are_kept_by_default_and_zero_keeps_all(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    for i in range(12):
        assert cli("enable" if i % 2 == 0 else "disable", "--root", str(root), "--keep-backups", "0")[0] == 0
    assert len(backup_dirs(root)) == 12
    code, out, _ = cli("enable", "--root", str(root), "--json")  # the 13th change, default --keep-backups
    assert code == 0
    result = json.loads(out)
    assert len(result["pruned_backups"]) == 3 and len(backup_dirs(root)) == 10
    assert result["backup"].rsplit("/", 1)[1] in backup_dirs(root)


def test_keep_backups_must_not_be_negative(sandbox) -> None:  # type: ignore[no-untyped-def]
    root = sandbox()
    before = tree_snapshot(root)
    assert cli("enable", "--root", str(root), "--keep-backups", "-1")[0] == 2
    assert tree_snapshot(root) == before
