"""Audit-log byte budgets such as `750MB/day`, `1.5GiB/day` or `40MiB/h`, as bytes per day."""

from __future__ import annotations

import re

from kauditcfg.errors import UsageError

UNITS: dict[str, int] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
PERIODS: dict[str, int] = {"d": 1, "day": 1, "h": 24, "hour": 24}  # how many fit in one day
_BUDGET = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*/\s*([A-Za-z]+)\s*")


def parse_budget(text: str) -> int:
    """Bytes per day; a bad or non-positive budget is a usage error naming the accepted forms."""
    match = _BUDGET.fullmatch(text)
    hint = "write a size per day or per hour, e.g. 750MB/day, 1.5GiB/day or 40MiB/h"
    if not match:
        raise UsageError(f"--budget {text!r}: {hint}")
    number, unit, period = match.groups()
    factor = UNITS.get(unit.lower())
    per = PERIODS.get(period.lower())
    if factor is None:
        raise UsageError(f"--budget {text!r}: unknown unit {unit!r} (B, kB, MB, GB, KiB, MiB, GiB); {hint}")
    if per is None:
        raise UsageError(f"--budget {text!r}: unknown period {period!r} (day or h); {hint}")
    per_day = float(number) * factor * per
    if per_day < 1:
        raise UsageError(f"--budget {text!r}: the budget must be more than 0 bytes; {hint}")
    return round(per_day)


def human_bytes(size: float) -> str:
    """Binary units, as `ls -h` prints them: 1.5 GiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover
