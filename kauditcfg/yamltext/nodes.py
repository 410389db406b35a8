"""Navigating the node graph: keys, paths and where a node's content ends in the text."""

from __future__ import annotations

from collections.abc import Iterator

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kauditcfg.yamltext.document import Path


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


def walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, MappingNode):
        for k, v in node.value:
            yield from walk(k)
            yield from walk(v)
    elif isinstance(node, SequenceNode):
        for v in node.value:
            yield from walk(v)


def content_end(node: Node) -> int:
    """Offset just past the last character that belongs to `node` (comments excluded).

    Block collections' own end marks run on past trailing comments and blank lines, so only
    scalars and flow collections, whose end marks are exact, are measured.
    """
    end: int = node.start_mark.index
    for sub in walk(node):
        if isinstance(sub, ScalarNode) or getattr(sub, "flow_style", False):
            end = max(end, int(sub.end_mark.index))
    return end
