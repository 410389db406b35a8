"""Byte-faithful YAML editing: ruamel.yaml understands the document, we splice the text.

A plain ruamel.yaml load+dump changes most real manifests before any edit (trailing spaces,
`creationTimestamp: null`, a missing final newline, hand-indented lists), so the original text is
never re-emitted. ruamel composes the node graph, whose marks give the character offsets of every
scalar; each edit is a (start, end, replacement) splice on the original text, and new lines are
rendered in the indentation style detected from the file itself. Untouched bytes cannot move.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kauditcfg.errors import InvalidInput

Path = tuple[str | int, ...]


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.allow_duplicate_keys = False
    return yaml


def to_plain(value: Any) -> Any:
    """ruamel's commented containers and scalar subclasses as plain dict/list/str/int/..."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return str(value)


@dataclass
class YamlDoc:
    """One parsed YAML document: its text, its node graph (with marks) and its plain data."""

    text: str
    node: Node
    data: Any
    source: str = "<text>"

    @property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"


def _problem(exc: YAMLError) -> str:
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        return f"{where}{what}".strip()
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def parse_documents(text: str, source: str) -> list[YamlDoc]:
    """Every non-empty document of `text`; InvalidInput (exit 3) for anything YAML refuses."""
    yaml = _yaml()
    try:
        nodes = [n for n in yaml.compose_all(text) if n is not None]
        # Constructing from the composed nodes saves a second parse (and checks duplicate keys).
        datas = [yaml.constructor.construct_document(n) for n in nodes]
    except YAMLError as exc:
        problem = _problem(exc)
        if "duplicate key" in problem or "found duplicate" in problem:
            raise InvalidInput(f"{source}: duplicate key: {problem}; remove the repeated key") from None
        raise InvalidInput(f"{source}: invalid YAML: {problem}; fix the syntax and run again") from None
    except Exception as exc:  # ruamel raises a few non-YAMLError types on odd input
        raise InvalidInput(f"{source}: invalid YAML: {exc}; fix the syntax and run again") from None
    return [YamlDoc(text, n, to_plain(d), source) for n, d in zip(nodes, datas, strict=True)]


# --- navigating the node graph --------------------------------------------------------------


def map_item(node: Node, key: str) -> tuple[ScalarNode, Node] | None:
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k, v
    return None


def node_at(root: Node, path: Path) -> Node:
    node = root
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, SequenceNode):
                raise KeyError(path)
            node = node.value[part]
        else:
            found = map_item(node, part)
            if found is None:
                raise KeyError(path)
            node = found[1]
    return node


def key_node_at(root: Node, path: Path) -> ScalarNode:
    """The key node of the mapping entry at `path` (whose last part is a key)."""
    parent = node_at(root, path[:-1])
    found = map_item(parent, str(path[-1]))
    if found is None:
        raise KeyError(path)
    return found[0]


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, MappingNode):
        for k, v in node.value:
            yield from _walk(k)
            yield from _walk(v)
    elif isinstance(node, SequenceNode):
        for v in node.value:
            yield from _walk(v)


def content_end(node: Node) -> int:
    """Offset just past the last character that belongs to `node` (comments excluded).

    Block collections' own end marks run on past trailing comments and blank lines, so only
    scalars and flow collections, whose end marks are exact, are measured.
    """
    end: int = node.start_mark.index
    for sub in _walk(node):
        if isinstance(sub, ScalarNode) or getattr(sub, "flow_style", False):
            end = max(end, int(sub.end_mark.index))
    return end


# --- style ------------------------------------------------------------------------------------


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
    for sub in _walk(doc.node):
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


def _flow_scalar(value: Any) -> str:
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


# --- splicing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Splice:
    start: int
    end: int
    text: str
    value: Any = None  # the scalar a replacement writes, for re-rendering it inside a flow list


@dataclass
class _FlowEdit:
    seq: SequenceNode
    deletes: set[int] = field(default_factory=set)
    inserts: dict[int, list[Any]] = field(default_factory=dict)


@dataclass
class TextEditor:
    """Collects splices against the original text and applies them all at once."""

    doc: YamlDoc
    style: Style = field(init=False)
    splices: list[Splice] = field(default_factory=list)
    flow_edits: dict[int, _FlowEdit] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.style = detect_style(self.doc)

    # line arithmetic on the original text
    def line_start(self, offset: int) -> int:
        return self.doc.text.rfind("\n", 0, offset) + 1

    def line_end(self, offset: int) -> int:
        """Offset just past the newline of the line holding `offset` (or the end of the text)."""
        nl = self.doc.text.find("\n", offset)
        return len(self.doc.text) if nl < 0 else nl + 1

    def column(self, offset: int) -> int:
        return offset - self.line_start(offset)

    # primitive operations
    def replace_scalar(self, node: Node, value: Any) -> None:
        self.replace_node(node, render_scalar(value), value)

    def replace_node(self, node: Node, text: str, value: Any = None) -> None:
        start, end = node.start_mark.index, node.end_mark.index
        # Keep an aligned inline comment in its column: absorb or add the padding before "#".
        rest = self.doc.text[end : self.line_end(end)]
        pad = len(rest) - len(rest.lstrip(" "))
        if pad and rest[pad:].startswith("#"):
            grow = len(text) - (end - start)
            text += " " * max(1, pad - grow)
            end += pad
        self.splices.append(Splice(start, end, text, value))

    def delete_lines(self, start: int, last_char: int) -> None:
        """Remove the whole lines from the one holding `start` to the one holding `last_char`."""
        begin = self.line_start(start)
        end = self.line_end(last_char)
        text = self.doc.text
        if end == len(text) and not text.endswith("\n") and begin > 0:
            # The file has no final newline: the line before becomes the last one, without its newline.
            begin -= 2 if text[begin - 2 : begin] == "\r\n" else 1
        self.splices.append(Splice(begin, end, ""))

    def insert_lines_after(self, offset: int, lines: list[str]) -> None:
        """Insert `lines` after the line holding `offset` (keeping a missing final newline missing)."""
        nl = self.style.newline
        at = self.line_end(offset)
        text = self.doc.text
        if at == len(text) and not text.endswith("\n"):
            self.splices.append(Splice(at, at, nl + nl.join(lines)))
        else:
            self.splices.append(Splice(at, at, "".join(line + nl for line in lines)))

    # structural operations on block collections
    def seq_item_span(self, seq: SequenceNode, index: int) -> tuple[int, int]:
        item = seq.value[index]
        start = item.start_mark.index
        dash = self.doc.text.rfind("-", 0, start)
        return (dash if dash >= 0 else start), content_end(item) - 1

    def delete_seq_item(self, seq: SequenceNode, index: int) -> None:
        if seq.flow_style:
            self._flow(seq).deletes.add(index)
            return
        start, last = self.seq_item_span(seq, index)
        self.delete_lines(start, last)

    def _flow(self, seq: SequenceNode) -> _FlowEdit:
        return self.flow_edits.setdefault(id(seq), _FlowEdit(seq))

    def _insert_flow(self, key: ScalarNode, seq: SequenceNode, index: int, items: Sequence[Any]) -> None:
        if all(not isinstance(item, dict | list) for item in items):
            self._flow(seq).inserts.setdefault(index, []).extend(items)
            return
        if seq.value:
            raise InvalidInput(
                f"{self.doc.source}: line {seq.start_mark.line + 1}: a non-empty flow-style list ([...]) of "
                "mappings cannot be edited faithfully; rewrite it as a block list (one '- item' per line)"
            )
        # `key: []` becomes a block list.
        dash_col = self.column(key.start_mark.index) + self.style.seq_offset
        lines = render_seq_lines(items, dash_col, self.style)
        nl = self.style.newline
        self.splices.append(Splice(key.end_mark.index, seq.end_mark.index, ":" + nl + nl.join(lines)))

    def _render_flow(self, edit: _FlowEdit) -> Splice:
        """A flow list with edits is written again as one `[a, b]`, its kept items' text unchanged."""
        text = self.doc.text
        by_start = {s.start: s for s in self.splices if s.start != s.end}
        texts: list[str] = []
        for i, node in enumerate(edit.seq.value):
            texts.extend(_flow_scalar(x) for x in edit.inserts.get(i, []))
            if i in edit.deletes:
                continue
            replaced = by_start.get(node.start_mark.index)
            if replaced is not None:
                self.splices.remove(replaced)
                texts.append(_flow_scalar(replaced.value) if replaced.value is not None else replaced.text)
            else:
                texts.append(text[node.start_mark.index : node.end_mark.index])
        texts.extend(_flow_scalar(x) for x in edit.inserts.get(len(edit.seq.value), []))
        return Splice(edit.seq.start_mark.index, edit.seq.end_mark.index, "[" + ", ".join(texts) + "]")

    def insert_seq_items(self, key: ScalarNode, seq: SequenceNode, index: int, items: Sequence[Any]) -> None:
        """Insert `items` before position `index` of the block sequence `seq` (the value of `key`).

        New lines go right after the previous item's last line, so comment lines above the item
        at `index` stay above it; before the first item means right after the key's line.
        """
        if seq.flow_style:
            self._insert_flow(key, seq, index, items)
            return
        dash_col = (
            seq.start_mark.column if seq.value else self.column(key.start_mark.index) + self.style.seq_offset
        )
        lines = render_seq_lines(items, dash_col, self.style)
        after = key.end_mark.index if index == 0 else content_end(seq.value[index - 1]) - 1
        self.insert_lines_after(after, lines)

    def insert_map_entry(
        self, parent_key: ScalarNode | None, mapping: MappingNode, index: int, key: str, value: Any
    ) -> None:
        """Insert `key: value` as entry `index` of the block mapping `mapping`."""
        if mapping.value:
            col = mapping.value[0][0].start_mark.column
        elif parent_key is not None:
            col = self.column(parent_key.start_mark.index) + self.style.map_indent
        else:
            col = 0
        lines = render_mapping_lines({key: value}, col, self.style)
        if index == 0:
            if parent_key is None:
                first = mapping.value[0][0].start_mark.index
                nl = self.style.newline
                at = self.line_start(first)
                self.splices.append(Splice(at, at, "".join(x + nl for x in lines)))
                return
            after = parent_key.end_mark.index
        else:
            after = content_end(mapping.value[index - 1][1]) - 1
            after = max(after, mapping.value[index - 1][0].end_mark.index)
        self.insert_lines_after(after, lines)

    def delete_map_entry(self, mapping: MappingNode, index: int) -> None:
        key, value = mapping.value[index]
        self.delete_lines(key.start_mark.index, max(content_end(value), key.end_mark.index) - 1)

    def render(self) -> str:
        for edit in self.flow_edits.values():
            self.splices.append(self._render_flow(edit))
        self.flow_edits.clear()
        # Insertions at one offset keep the order they were made in.
        merged: dict[int, str] = {}
        others: list[Splice] = []
        for splice in self.splices:
            if splice.start == splice.end:
                merged[splice.start] = merged.get(splice.start, "") + splice.text
            else:
                others.append(splice)
        others.extend(Splice(at, at, text) for at, text in merged.items())
        ordered = sorted(others, key=lambda s: (s.start, s.end > s.start), reverse=True)
        text = self.doc.text
        floor = len(text) + 1
        floor_deletes = False
        for splice in ordered:
            end = splice.end
            if end > floor:
                # Two deletions may share a newline (removing the last lines of a file without a final
                # newline); their union is what both want. Any other overlap is a bug.
                if not (floor_deletes and not splice.text):
                    raise AssertionError(f"overlapping edits at offset {splice.start}")
                end = floor
            text = text[: splice.start] + splice.text + text[end:]
            floor = splice.start
            floor_deletes = not splice.text
        original = self.doc.text
        touched_end = any(s.end == len(original) for s in others)
        if touched_end and not original.endswith("\n") and text.endswith("\n"):
            # A missing final newline stays missing, whatever was removed before it.
            text = text[:-2] if text.endswith("\r\n") else text[:-1]
        return text
