"""The file's indentation style, and new scalars and blocks rendered in it."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.nodes import MappingNode, SequenceNode

from kauditcfg.yamltext.document import YamlDoc
from kauditcfg.yamltext.nodes import walk


@dataclass(frozen=True)
class Style:
    """How this file indents: detected, so new lines look like their neighbours."""

    map_indent: int = 2  # a nested mapping's keys, relative to its parent key
    seq_offset: int = 0  # a block sequence's dash, relative to its parent key (kubeadm: 0)
    dash_gap: int = 2  # from the dash to the item's content ("- ")
    newline: str = "\n"


def detect_style(doc: YamlDoc) -> Style:
    map_indents: Counter[int] = Counter()
    seq_offsets: Counter[int] = Counter()
    gaps: Counter[int] = Counter()
    for sub in walk(doc.node):
        if not isinstance(sub, MappingNode) or sub.flow_style:
            continue
        for k, v in sub.value:
            if isinstance(v, MappingNode) and not v.flow_style and v.value:
                child = v.value[0][0]
                if child.start_mark.line > k.start_mark.line:
                    map_indents[child.start_mark.column - k.start_mark.column] += 1
            elif isinstance(v, SequenceNode) and not v.flow_style and v.value:
                dash_col = v.start_mark.column
                seq_offsets[dash_col - k.start_mark.column] += 1
                first = v.value[0]
                if first.start_mark.line == v.start_mark.line:
                    gaps[first.start_mark.column - dash_col] += 1

    def most(counter: Counter[int], default: int) -> int:
        return counter.most_common(1)[0][0] if counter else default

    return Style(
        map_indent=max(1, most(map_indents, 2)),
        seq_offset=max(0, most(seq_offsets, 0)),
        dash_gap=max(2, most(gaps, 2)),
        newline=doc.newline,
    )


# --- rendering new scalars and blocks --------------------------------------------------------

# YAML 1.1 (what the kubelet's decoder speaks) reads these as booleans, nulls or numbers.
_AMBIGUOUS = re.compile(
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|null|Null|NULL|~|[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?0[xob][0-9a-fA-F_]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[0-9]+(?::[0-5]?[0-9])+)$"
)
_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_./-][A-Za-z0-9_./=:,@+%-]*$")


class Quoted(str):
    """A string always written double-quoted (annotation values: a hash must never read as a number)."""

    __slots__ = ()


def render_scalar(value: Any) -> str:
    """A scalar as YAML text that every YAML 1.1 and 1.2 reader reads back as `value`."""
    if isinstance(value, Quoted):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN_SAFE.match(text) and not _AMBIGUOUS.match(text) and not text.endswith(":"):
        return text
    return json.dumps(text, ensure_ascii=False)


def flow_scalar(value: Any) -> str:
    """Inside [...] a plain scalar may not hold , [ ] { }: strings are always double-quoted there."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else render_scalar(value)


def render_mapping_lines(
    mapping: dict[str, Any], col: int, style: Style, first_prefix: str | None = None
) -> list[str]:
    """Block lines of `mapping` with its keys at column `col` (keys in the given order).

    `first_prefix` replaces the indentation of the first line (a sequence item's "- ").
    """
    lines: list[str] = []
    for key, value in mapping.items():
        pad = " " * col
        if not lines and first_prefix is not None:
            pad = first_prefix
        key_text = render_scalar(key)
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{key_text}:")
            lines.extend(render_mapping_lines(value, col + style.map_indent, style))
        elif isinstance(value, list) and value:
            lines.append(f"{pad}{key_text}:")
            lines.extend(render_seq_lines(value, col + style.seq_offset, style))
        elif isinstance(value, dict):
            lines.append(f"{pad}{key_text}: {{}}")
        elif isinstance(value, list):
            lines.append(f"{pad}{key_text}: []")
        else:
            lines.append(f"{pad}{key_text}: {render_scalar(value)}")
    return lines


def render_seq_lines(items: Sequence[Any], dash_col: int, style: Style) -> list[str]:
    lines: list[str] = []
    for item in items:
        prefix = " " * dash_col + "-" + " " * (style.dash_gap - 1)
        if isinstance(item, dict) and item:
            lines.extend(render_mapping_lines(item, dash_col + style.dash_gap, style, prefix))
        else:
            lines.append(prefix + render_scalar(item))
    return lines
