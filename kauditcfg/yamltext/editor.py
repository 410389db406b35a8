"""Splicing: edits collected as (start, end, text) against the original, applied at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kauditcfg.errors import InvalidInput
from kauditcfg.yamltext.document import YamlDoc
from kauditcfg.yamltext.nodes import content_end, walk
from kauditcfg.yamltext.render import (
    Style,
    detect_style,
    flow_scalar,
    render_mapping_lines,
    render_scalar,
    render_seq_lines,
)


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

    def guard(self, node: Node, deleted: Node | None = None) -> None:
        """Refuse up front to edit an anchored collection (`volumeMounts: &mnts`, shared through
        `*mnts`): the edit would change every alias too; or to delete an item holding an anchor
        that an alias elsewhere still needs."""
        anchored = node if getattr(node, "anchor", None) else None
        if anchored is None and deleted is not None:
            anchored = next((n for n in walk(deleted) if getattr(n, "anchor", None)), None)
        if anchored is None:
            return
        name = next(
            (
                str(k.value)
                for sub in walk(self.doc.node)
                if isinstance(sub, MappingNode)
                for k, v in sub.value
                if v is node
            ),
            "?",
        )
        raise InvalidInput(
            f"{self.doc.source}: line {anchored.start_mark.line + 1}: anchored list `{name}` "
            f"(&{anchored.anchor}) cannot be edited without changing its aliases; write it out in full "
            "(no &anchor/*alias) and run again"
        )

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
        self.guard(seq, seq.value[index])
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
            texts.extend(flow_scalar(x) for x in edit.inserts.get(i, []))
            if i in edit.deletes:
                continue
            replaced = by_start.get(node.start_mark.index)
            if replaced is not None:
                self.splices.remove(replaced)
                texts.append(flow_scalar(replaced.value) if replaced.value is not None else replaced.text)
            else:
                texts.append(text[node.start_mark.index : node.end_mark.index])
        texts.extend(flow_scalar(x) for x in edit.inserts.get(len(edit.seq.value), []))
        return Splice(edit.seq.start_mark.index, edit.seq.end_mark.index, "[" + ", ".join(texts) + "]")

    def insert_seq_items(self, key: ScalarNode, seq: SequenceNode, index: int, items: Sequence[Any]) -> None:
        """Insert `items` before position `index` of the block sequence `seq` (the value of `key`).

        New lines go right after the previous item's last line, so comment lines above the item
        at `index` stay above it; before the first item means right after the key's line.
        """
        self.guard(seq)
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
        self.guard(mapping)
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
        self.guard(mapping, mapping.value[index][1])
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
