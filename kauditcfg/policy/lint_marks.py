"""Where a lint finding sits in the policy file, and the findings a `# kauditcfg: ignore=ID` hides.

A comment on a rule's lines, or alone on the line just above the rule, silences those IDs for
that rule; anywhere else (outside every rule) it silences them for the whole-policy findings.
"""

from __future__ import annotations

import re

from kauditcfg.policy.yamltree import Mark, Tree

_IGNORE = re.compile(r"#\s*kauditcfg:\s*ignore\s*=\s*([A-Za-z0-9_,\- ]+)")
_PATH = re.compile(r"^((?:[A-Za-z]+)(?:\[\d+\])?(?:\.[A-Za-z]+(?:\[\d+\])?)*):")


def locate(rule: int | None, message: str, tree: Tree | None) -> Mark:
    """The finding's field when its message starts with one (`rules[2].level: ...`), else its rule."""
    if tree is None:
        return Mark(1, 1)
    match = _PATH.match(message)
    if match:
        path = match.group(1)
        while path:
            if path in tree.marks:
                return tree.marks[path]
            path = path.rpartition(".")[0]
    if rule is not None and f"rules[{rule}]" in tree.marks:
        return tree.marks[f"rules[{rule}]"]
    return Mark(1, 1)


def _rule_ranges(tree: Tree) -> list[tuple[int, int, int]]:
    starts = sorted(
        (span[0], span[1], int(path[6:-1])) for path, span in tree.spans.items() if path[6:-1].isdigit()
    )
    ranges = []
    for i, (start, end, index) in enumerate(starts):
        stop = starts[i + 1][0] - 1 if i + 1 < len(starts) else end
        ranges.append((start, max(stop, start), index))
    return ranges


def ignored(text: str, tree: Tree | None) -> dict[int | None, set[str]]:
    """Rule index (None: the policy as a whole) -> the finding IDs its comments silence."""
    found: dict[int | None, set[str]] = {}
    ranges = _rule_ranges(tree) if tree is not None else []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _IGNORE.search(line)
        if not match:
            continue
        ids = {part.strip() for part in match.group(1).split(",") if part.strip()}
        alone = line.lstrip().startswith("#")
        owner: int | None = None
        starting = [index for start, _, index in ranges if alone and start == number + 1]
        if starting:
            owner = starting[0]
        else:
            owner = next((index for start, stop, index in ranges if start <= number <= stop), None)
        found.setdefault(owner, set()).update(ids)
    return found
