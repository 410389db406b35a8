"""Setting and removing the pod annotations kauditcfg manages, as splices on the manifest text."""

from __future__ import annotations

from ruamel.yaml.nodes import MappingNode, ScalarNode

from kauditcfg.errors import InvalidInput
from kauditcfg.manifest.editing import PodEditor, is_sorted
from kauditcfg.yamltext import Quoted, Splice, map_item, node_at, render_scalar


def set_annotations(pod: PodEditor, changes: dict[str, str | None]) -> None:
    """Set each key to its value (always double-quoted), or remove it when the value is None."""
    source = pod.source
    sets = {k: v for k, v in sorted(changes.items()) if v is not None}
    removals = [k for k, v in changes.items() if v is None]
    found = pod.find(("metadata", "annotations"))
    if found is None or (isinstance(found[1], ScalarNode) and found[1].value in ("", "null", "~")):
        if not sets:
            return
        if found is not None:
            raise InvalidInput(f"{source}: metadata.annotations is empty; remove the empty key")
        if pod.find(("metadata",)) is None:
            raise InvalidInput(f"{source}: the Pod has no metadata; add metadata.name")
        pod.insert_new_key(("metadata",), "annotations", {k: Quoted(v) for k, v in sets.items()})
        return
    key, mapping = found
    if not isinstance(mapping, MappingNode):
        raise InvalidInput(f"{source}: metadata.annotations is not a mapping")
    keys = [str(k.value) for k, _ in mapping.value]
    if removals and not sets and set(keys) <= set(removals):
        meta = node_at(pod.root, ("metadata",))
        assert isinstance(meta, MappingNode)
        index = next(i for i, (k, _) in enumerate(meta.value) if k.value == "annotations")
        pod.editor.delete_map_entry(meta, index)
        return
    for name in removals:
        pod.editor.delete_map_entry(mapping, keys.index(name))
    new = {k: v for k, v in sets.items() if k not in keys}
    for name, value in sets.items():
        if name in keys:
            existing = map_item(mapping, name)
            assert existing is not None
            pod.editor.replace_node(existing[1], render_scalar(Quoted(value)))
    if not new:
        return
    if mapping.flow_style:
        if mapping.value:
            raise InvalidInput(
                f"{source}: metadata.annotations is written in flow style ({{...}}); "
                "rewrite it as a block mapping"
            )
        col = pod.editor.column(key.start_mark.index) + pod.editor.style.map_indent
        nl = pod.editor.style.newline
        lines = "".join(f"{nl}{' ' * col}{k}: {render_scalar(Quoted(v))}" for k, v in new.items())
        pod.editor.splices.append(Splice(key.end_mark.index, mapping.end_mark.index, ":" + lines))
        return
    for name, value in new.items():
        index = len(keys)
        if is_sorted(keys) or len(keys) == 1:
            index = next((i for i, k in enumerate(keys) if k > name), len(keys))
        pod.editor.insert_map_entry(key, mapping, index, name, Quoted(value))
