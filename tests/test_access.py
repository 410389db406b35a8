"""access.py: the kernel's permission classes, judged from st_uid/st_gid/st_mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kauditcfg.access import (
    Identity,
    allowed,
    can,
    describe_stat,
    identity_from_security,
    missing_bits,
)

DIR = stat.S_IFDIR
REG = stat.S_IFREG
KAS = Identity(uid=1203, gid=1203, groups=frozenset({1204}))
ROOT = Identity()


@pytest.mark.parametrize(
    ("uid", "gid", "mode", "want", "expected"),
    [
        (1203, 0, DIR | 0o700, "wx", True),  # owner
        (0, 1203, DIR | 0o770, "wx", True),  # primary group
        (0, 1204, DIR | 0o750, "x", True),  # supplementary group may search
        (0, 1204, DIR | 0o750, "wx", False),  # ...but not write
        (0, 0, DIR | 0o755, "wx", False),  # kubelet's DirectoryOrCreate: root 0755
        (0, 0, DIR | 0o757, "wx", True),  # other bits
        (1203, 0, DIR | 0o077, "wx", False),  # owner class wins even when others could
        (0, 1203, DIR | 0o707, "w", False),  # group class wins over other
        (0, 0, REG | 0o644, "r", True),
        (0, 0, REG | 0o600, "r", False),
    ],
)
def test_kas_identity(uid: int, gid: int, mode: int, want: str, expected: bool) -> None:
    assert allowed(uid, gid, mode, KAS, want) is expected


def test_root_bypasses_read_write_and_search_but_execute_needs_an_x_bit() -> None:
    assert allowed(1203, 1203, DIR | 0o000, ROOT, "rwx")
    assert allowed(1203, 1203, REG | 0o000, ROOT, "rw")
    assert not allowed(1203, 1203, REG | 0o600, ROOT, "x")
    assert allowed(1203, 1203, REG | 0o010, ROOT, "x")


def test_root_that_drops_dac_override_is_judged_by_the_bits() -> None:
    who = identity_from_security(0, None, [], None, {"drop": ["ALL"]})
    assert not who.bypasses_dac
    assert not allowed(1203, 1203, DIR | 0o700, who, "wx")
    assert allowed(0, 0, DIR | 0o700, who, "wx")
    readded = identity_from_security(0, None, [], None, {"drop": ["ALL"], "add": ["CAP_DAC_OVERRIDE"]})
    assert readded.bypasses_dac


def test_identity_from_security_defaults_and_fs_group() -> None:
    who = identity_from_security(1203, None, [1204], 2000)
    assert (who.uid, who.gid) == (1203, 0)
    assert who.all_groups() == {0, 1204, 2000}
    assert who.describe() == "uid 1203 gid 0 (supplementary groups 1204,2000)"


def test_missing_bits_grants_in_the_class_the_kernel_uses() -> None:
    assert missing_bits(0, 0, DIR | 0o700, KAS, "x") == 0o001
    assert missing_bits(0, 1203, DIR | 0o700, KAS, "x") == 0o010
    assert missing_bits(1203, 0, DIR | 0o600, KAS, "wx") == 0o100


def test_can_stats_real_paths(tmp_path: Path) -> None:
    target = tmp_path / "log"
    target.mkdir()
    os.chown(target, 1203, 1203)
    os.chmod(target, 0o700)
    assert can(target, KAS, "wx")
    assert not can(target, Identity(uid=1500, gid=1500), "x")
    assert not can(tmp_path / "missing", ROOT, "r")
    assert describe_stat(target.stat()) == "owner 1203:1203 mode 0700"
