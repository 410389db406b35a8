"""The local files an `enable` names (`--policy-file`, `--values`), read once before building."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kauditcfg.config.options import EnableOptions
from kauditcfg.errors import InvalidInput, UsageError


@dataclass(frozen=True)
class Inputs:
    policy: bytes | None = None  # --policy-file's bytes
    values: str | None = None  # --values' text


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read the {what} ({exc.strerror})") from None


def read_inputs(opts: EnableOptions) -> Inputs:
    if opts.policy_file is not None:
        if opts.set_values or opts.values_file is not None:
            raise UsageError("--set/--values configure a profile; they cannot be used with --policy-file")
        return Inputs(policy=_read(opts.policy_file, "policy file"))
    if opts.values_file is None:
        return Inputs()
    data = _read(opts.values_file, "values file")
    try:
        return Inputs(values=data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"{opts.values_file}: not UTF-8 text; expected a YAML mapping") from None
