"""The local files an `enable` names (`--policy-file`, `--values`), read once before building."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from kauditcfg.config.options import EnableOptions
from kauditcfg.errors import InvalidInput, UsageError

MAX_INPUT = 1024 * 1024  # a real audit policy is a few KB; /dev/zero or a log file is a mistake


@dataclass(frozen=True)
class Inputs:
    policy: bytes | None = None  # --policy-file's bytes
    values: str | None = None  # --values' text


def read_limited(path: Path, option: str) -> bytes:
    """A regular file of at most 1 MiB, checked before it is read (exit 3 otherwise)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InvalidInput(f"{option} {path}: cannot read it ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInput(f"{option} {path}: not a regular file; give the path of a YAML file")
        if st.st_size > MAX_INPUT:
            raise InvalidInput(
                f"{option} {path}: {st.st_size} bytes, over the 1 MiB limit; is this the right file?"
            )
        data = os.read(fd, MAX_INPUT + 1)
    except OSError as exc:
        raise InvalidInput(f"{option} {path}: cannot read it ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > MAX_INPUT:
        raise InvalidInput(f"{option} {path}: over the 1 MiB limit; is this the right file?")
    return data


def read_inputs(opts: EnableOptions) -> Inputs:
    if opts.policy_file is not None:
        if opts.set_values or opts.values_file is not None:
            raise UsageError("--set/--values configure a profile; they cannot be used with --policy-file")
        return Inputs(policy=read_limited(opts.policy_file, "--policy-file"))
    if opts.values_file is None:
        return Inputs()
    data = read_limited(opts.values_file, "--values")
    try:
        return Inputs(values=data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"--values {opts.values_file}: not UTF-8 text; expected a YAML mapping") from None
