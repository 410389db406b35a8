"""The pod-level editing primitives the patcher builds on: find, insert a key, edit a list."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kauditcfg.errors import InvalidInput
from kauditcfg.manifest.pod import ApiServerPod, Flag, Json
from kauditcfg.yamltext import Path, TextEditor, key_node_at, map_item, node_at


def norm_path(path: Any) -> str:
    text = str(path or "")
    return posixpath.normpath(text) if text else ""


def is_sorted(names: list[str]) -> bool:
    return len(names) >= 2 and names == sorted(names)


def sorted_run(flags: list[Flag]) -> list[Flag]:
    """The sorted flags a list starts with, when they are most of it (kubeadm's sorted output,
    perhaps with a few flags appended by hand); empty when the list is not kept sorted."""

    def ordered(a: Flag, b: Flag) -> bool:
        # kubeadm sorts by name; kops sorts the "--name=value" strings ("etcd-servers-overrides=" first)
        return a.name <= b.name or f"{a.name}={a.value}" <= f"{b.name}={b.value}"

    end = 1
    while end < len(flags) and ordered(flags[end - 1], flags[end]):
        end += 1
    return flags[:end] if end >= 2 and 2 * end >= len(flags) else []


def ordered_like(obj: dict[str, Any], sibling: Json | None) -> dict[str, Any]:
    """`obj`'s keys in the order a neighbouring item uses, so new lines match the file's style."""
    if not sibling:
        return obj
    order = {key: i for i, key in enumerate(sibling)}
    keys = sorted(obj, key=lambda k: (order.get(k, len(order)), k))
    result: dict[str, Any] = {}
    for key in keys:
        value = obj[key]
        if isinstance(value, dict) and isinstance(sibling.get(key), dict):
            value = ordered_like(value, sibling[key])
        result[key] = value
    return result


class PodEditor:
    """Edits to one pod manifest, collected as splices on its text (see kauditcfg.yamltext)."""

    def __init__(self, pod: ApiServerPod) -> None:
        self.pod = pod
        self.editor = TextEditor(pod.doc)
        self.root = pod.doc.node
        self.cpath: Path = ("spec", "containers", pod.container_index)
        self.removed_volumes: set[str] = set()
        self.added_volumes: set[str] = set()
        self.source = pod.doc.source

    def find(self, path: Path) -> tuple[ScalarNode, Node] | None:
        try:
            parent = node_at(self.root, path[:-1])
        except (KeyError, IndexError):
            return None
        return map_item(parent, str(path[-1]))

    def block_seq(self, path: Path) -> tuple[ScalarNode, SequenceNode] | None:
        found = self.find(path)
        if found is None:
            return None
        key, node = found
        if isinstance(node, ScalarNode) and node.value in ("", "null", "~"):
            return None
        if not isinstance(node, SequenceNode):
            raise InvalidInput(f"{self.source}: {'.'.join(map(str, path))} is not a list; fix the manifest")
        return key, node

    def insert_new_key(self, map_path: Path, key: str, value: Any) -> None:
        """Add `key: value` to the mapping at `map_path`, at its sorted place when keys are sorted."""
        mapping = node_at(self.root, map_path)
        if not isinstance(mapping, MappingNode) or mapping.flow_style:
            raise InvalidInput(
                f"{self.source}: {'.'.join(map(str, map_path))} is written in flow style ({{...}}) or is not "
                f"a mapping; kauditcfg needs to add {key!r} there: rewrite it as a block mapping"
            )
        keys = [str(k.value) for k, _ in mapping.value]
        index = len(keys)
        if is_sorted(keys):
            index = next((i for i, k in enumerate(keys) if k > key), len(keys))
        in_sequence = isinstance(map_path[-1], int)
        if index == 0 and in_sequence:
            index = len(keys)  # the first key shares the "- " line; never split it
        parent_key = None if in_sequence or not map_path else key_node_at(self.root, map_path)
        self.editor.insert_map_entry(parent_key, mapping, index, key, value)

    def seq_edit(
        self, path: Path, deletes: set[int], inserts: list[tuple[str, dict[str, Any]]], items: list[Json]
    ) -> None:
        """Delete items, insert named mapping items (sorted by name when the list is)."""
        found = self.block_seq(path)
        if found is None:
            if inserts:  # no list yet: a new key, its items in kubeadm's order (sorted by name)
                self.insert_new_key(path[:-1], str(path[-1]), [obj for _, obj in sorted(inserts)])
            return
        key, seq = found
        kept = [i for i in range(len(seq.value)) if i not in deletes]
        if not kept and not inserts:
            mapping = node_at(self.root, path[:-1])
            assert isinstance(mapping, MappingNode)
            index = next(i for i, (k, _) in enumerate(mapping.value) if k.value == path[-1])
            self.editor.delete_map_entry(mapping, index)
            return
        for i in sorted(deletes):
            self.editor.delete_seq_item(seq, i)
        names = [str(items[i].get("name", "")) if i < len(items) else "" for i in kept]
        sibling = items[kept[0]] if kept and kept[0] < len(items) else (items[0] if items else None)
        by_index: dict[int, list[dict[str, Any]]] = defaultdict(list)
        ordered = sorted(inserts) if is_sorted(names) or len(names) < 2 else inserts
        for name, obj in ordered:
            if is_sorted(names):
                at = next((i for i, n in zip(kept, names, strict=True) if n > name), len(seq.value))
            else:
                at = len(seq.value)
            by_index[at].append(ordered_like(obj, sibling))
        for at, objs in by_index.items():
            self.editor.insert_seq_items(key, seq, at, objs)

    # -- flags ---------------------------------------------------------------------------------
