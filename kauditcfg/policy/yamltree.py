"""The first YAML document of a policy file as plain data, read the way kube-apiserver reads it.

kube-apiserver turns the file into JSON with sigs.k8s.io/yaml (go-yaml v2, YAML 1.1 scalars) and
decodes only the first document (k8s.io/apiserver/pkg/audit/policy/reader.go,
LoadPolicyFromBytes). go-yaml keeps the *last* value of a duplicated key; ruamel's constructor
keeps the first or refuses, so the composed node tree is converted here instead, remembering
where every key sits (for `file:line:col` findings) and every duplicate (a lint finding).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_MERGE = "tag:yaml.org,2002:merge"
_MAX_DEPTH = 200


@dataclass(frozen=True)
class Mark:
    """1-based line and column, as editors and linters print them."""

    line: int
    column: int


@dataclass(frozen=True)
class Duplicate:
    path: str  # the duplicated key's path, e.g. rules[2].level
    first: Mark
    second: Mark


@dataclass
class Tree:
    data: Any = None
    marks: dict[str, Mark] = field(default_factory=dict)
    # rules[i] -> (first line, last line): where an inline `# kauditcfg: ignore=` comment applies.
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    duplicates: list[Duplicate] = field(default_factory=list)
    later_documents: int = 0
    later_error: str | None = None
    empty_first: bool = False  # `---` with nothing, followed by the real policy


class YamlSyntaxError(Exception):
    """The first document is not YAML: kube-apiserver fails with `failed decoding: yaml: ...`."""


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def describe(exc: YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return f"{where}{getattr(exc, 'problem', None) or exc}"


class _Builder:
    def __init__(self, yaml: YAML, tree: Tree) -> None:
        self.constructor = yaml.constructor
        self.tree = tree
        self.done: dict[int, Any] = {}  # aliases share one value: no exponential "billion laughs"
        self.busy: set[int] = set()

    def scalar(self, node: ScalarNode) -> Any:
        value = self.constructor.construct_object(node, deep=True)
        # go-yaml decodes an untyped timestamp into a string when the target is interface{}.
        if isinstance(value, datetime.date | datetime.datetime):
            return node.value
        return value

    def build(self, node: Node, path: str, depth: int = 0) -> Any:
        if id(node) in self.done:
            return self.done[id(node)]
        if id(node) in self.busy or depth > _MAX_DEPTH:
            raise YamlSyntaxError(f"line {_mark(node).line}: recursive or too deeply nested alias")
        self.busy.add(id(node))
        try:
            if isinstance(node, MappingNode):
                value: Any = self.mapping(node, path, depth)
            elif isinstance(node, SequenceNode):
                value = [self.item(child, f"{path}[{i}]", depth) for i, child in enumerate(node.value)]
            elif isinstance(node, ScalarNode):
                value = self.scalar(node)
            else:
                raise YamlSyntaxError(f"line {_mark(node).line}: unexpected YAML node")
        finally:
            self.busy.discard(id(node))
        self.done[id(node)] = value
        return value

    def item(self, node: Node, path: str, depth: int) -> Any:
        self.tree.marks.setdefault(path, _mark(node))
        if path.startswith("rules[") and path.count("[") == 1:
            end = node.end_mark.line + (1 if node.end_mark.column else 0)
            self.tree.spans[path] = (node.start_mark.line + 1, max(end, node.start_mark.line + 1))
        return self.build(node, path, depth + 1)

    def mapping(self, node: MappingNode, path: str, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        seen: dict[Any, Mark] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:  # `<<: *anchor`: explicit keys win over merged ones
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    built = self.build(source, path, depth + 1)
                    if isinstance(built, dict):
                        merged = {**built, **merged}
                continue
            key = self.build(key_node, path, depth + 1)
            if isinstance(key, list | dict):
                key = str(key)
            child = f"{path}.{key}" if path else str(key)
            if key in seen:
                self.tree.duplicates.append(Duplicate(child, seen[key], _mark(key_node)))
            seen[key] = _mark(key_node)
            self.tree.marks[child] = _mark(key_node)
            result[key] = self.build(value_node, child, depth + 1)
        return {**merged, **result}


def read_first_document(text: str) -> Tree:
    """The first document's data (None when there is none), its marks and what follows it."""
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 1)  # go-yaml v2 resolves scalars by YAML 1.1 (`yes` is a boolean)
    tree = Tree()
    documents: Iterator[Node] = yaml.compose_all(text)
    try:
        first = next(documents, None)
    except YAMLError as exc:
        raise YamlSyntaxError(describe(exc)) from None
    if first is None:
        return tree
    empty = isinstance(first, ScalarNode) and str(first.tag).endswith(":null")
    try:
        tree.data = None if empty else _Builder(yaml, tree).build(first, "")
    except YAMLError as exc:
        raise YamlSyntaxError(describe(exc)) from None
    try:
        for node in documents:
            if not (isinstance(node, ScalarNode) and str(node.tag).endswith(":null")):
                tree.later_documents += 1
    except YAMLError as exc:
        tree.later_documents += 1
        tree.later_error = describe(exc)
    tree.empty_first = empty and tree.later_documents > 0
    return tree
