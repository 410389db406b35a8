"""Byte-faithful YAML editing: ruamel.yaml understands the document, we splice the text.

A plain ruamel.yaml load+dump changes most real manifests before any edit (trailing spaces,
`creationTimestamp: null`, a missing final newline, hand-indented lists), so the original text is
never re-emitted. ruamel composes the node graph, whose marks give the character offsets of every
scalar; each edit is a (start, end, replacement) splice on the original text, and new lines are
rendered in the indentation style detected from the file itself. Untouched bytes cannot move.
"""

from __future__ import annotations

from kauditcfg.yamltext.document import Path, YamlDoc, parse_documents, to_plain
from kauditcfg.yamltext.editor import Splice, TextEditor
from kauditcfg.yamltext.nodes import content_end, key_node_at, map_item, node_at
from kauditcfg.yamltext.render import (
    Quoted,
    Style,
    detect_style,
    render_mapping_lines,
    render_scalar,
    render_seq_lines,
)

__all__ = [
    "Path",
    "Quoted",
    "Splice",
    "Style",
    "TextEditor",
    "YamlDoc",
    "content_end",
    "detect_style",
    "key_node_at",
    "map_item",
    "node_at",
    "parse_documents",
    "render_mapping_lines",
    "render_scalar",
    "render_seq_lines",
    "to_plain",
]
