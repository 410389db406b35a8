"""Merge the audit settings into an existing kubeadm config file, byte for byte elsewhere.

A kubeadm config file is several YAML documents (InitConfiguration, ClusterConfiguration,
KubeletConfiguration, ...). Only ClusterConfiguration's `apiServer.extraArgs` and
`apiServer.extraVolumes` are edited, through the same text splicer as the manifest: comments,
quoting and every other document stay as they were. The ConfigMap `kube-system/kubeadm-config`
holds one ClusterConfiguration document as text and is merged the same way.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kauditcfg.config.audit import AuditConfig, MountSpec
from kauditcfg.config.defaults import LOG_VOLUME, POLICY_VOLUME
from kauditcfg.errors import InvalidInput, PreflightRefused
from kauditcfg.kubeadm.clusterconfig import (
    GROUP,
    KIND,
    V1BETA3,
    Json,
    extra_args_of,
    extra_args_value,
    extra_volumes_of,
    short_api,
    volume_value,
)
from kauditcfg.manifest.pod import path_within
from kauditcfg.versions import Version, parse_version
from kauditcfg.yamltext import (
    Splice,
    TextEditor,
    YamlDoc,
    map_item,
    parse_documents,
    render_mapping_lines,
    render_seq_lines,
    to_plain,
)

AUDIT_PATH_FLAGS = ("audit-policy-file", "audit-log-path", "audit-webhook-config-file")


@dataclass
class KubeadmConfig:
    """A parsed kubeadm config file (or the ConfigMap's ClusterConfiguration text)."""

    text: str
    source: str
    docs: list[YamlDoc]
    cluster: YamlDoc | None  # the ClusterConfiguration document, if there is one
    api: str | None  # its "v1beta3"/"v1beta4"

    @property
    def api_server(self) -> Json:
        data = self.cluster.data if self.cluster is not None else {}
        value = data.get("apiServer") if isinstance(data, dict) else None
        return value if isinstance(value, dict) else {}

    @property
    def extra_args(self) -> dict[str, str]:
        return extra_args_of(self.api_server, self.api or V1BETA3, self.source) if self.api else {}

    @property
    def audit_flags(self) -> dict[str, str]:
        return {k: v for k, v in self.extra_args.items() if k.startswith("audit-")}

    @property
    def kubernetes_version(self) -> Version | None:
        data = self.cluster.data if self.cluster is not None else {}
        text = data.get("kubernetesVersion") if isinstance(data, dict) else None
        if not isinstance(text, str):
            return None
        try:
            return parse_version(text)
        except Exception:  # "stable-1" and other labels kubeadm resolves online
            return None


def load_kubeadm_config(text: str, source: str) -> KubeadmConfig:
    docs = parse_documents(text, source)
    clusters = [
        d
        for d in docs
        if isinstance(d.data, dict)
        and d.data.get("kind") == KIND
        and str(d.data.get("apiVersion", "")).startswith(GROUP + "/")
    ]
    if len(clusters) > 1:
        raise InvalidInput(f"{source}: holds {len(clusters)} {KIND} documents; kubeadm reads one")
    cluster = clusters[0] if clusters else None
    api = short_api(cluster.data.get("apiVersion"), source) if cluster is not None else None
    config = KubeadmConfig(text, source, docs, cluster, api)
    if cluster is not None:
        extra_args_of(config.api_server, config.api or V1BETA3, source)  # the shape is checked now
        extra_volumes_of(config.api_server, source)
    return config


def other_api(config: KubeadmConfig) -> str | None:
    """The kubeadm API version the file's other documents use (for a ClusterConfiguration to add)."""
    for doc in config.docs:
        version = str(doc.data.get("apiVersion", "")) if isinstance(doc.data, dict) else ""
        group, _, short = version.partition("/")
        if group == GROUP and short:
            return short
    return None


@dataclass
class MergeResult:
    text: str
    notes: list[str] = field(default_factory=list)


def _norm(path: Any) -> str:
    return posixpath.normpath(str(path)) if path else ""


def _is_sorted(names: list[str]) -> bool:
    return len(names) >= 2 and names == sorted(names)


class _Merger:
    def __init__(self, config: KubeadmConfig, want: AuditConfig) -> None:
        assert config.cluster is not None and config.api is not None
        self.config = config
        self.doc = config.cluster
        self.api = config.api
        self.want = want
        self.editor = TextEditor(self.doc)
        self.notes: list[str] = []
        self.source = config.source

    # -- generic editing ---------------------------------------------------------------------

    def _empty(self, node: Node) -> bool:
        if isinstance(node, ScalarNode):
            return node.value in ("", "null", "~")
        return isinstance(node, MappingNode | SequenceNode) and node.flow_style and not node.value

    def _set(self, parent_key: ScalarNode | None, mapping: MappingNode, key: str, value: Any) -> None:
        """Give `key` the block value `value` in `mapping`: replace an empty value, else add the key."""
        found = map_item(mapping, key)
        if found is not None:
            key_node, node = found
            if not self._empty(node):
                raise InvalidInput(f"{self.source}: {key} cannot be merged; write it as a block mapping")
            col = self.editor.column(key_node.start_mark.index)
            style = self.editor.style
            nl = style.newline
            if isinstance(value, dict):
                lines = render_mapping_lines(value, col + style.map_indent, style)
            else:
                lines = render_seq_lines(value, col + style.seq_offset, style)
            self.editor.splices.append(
                Splice(key_node.end_mark.index, node.end_mark.index, ":" + nl + nl.join(lines))
            )
            return
        if mapping.flow_style:
            raise InvalidInput(
                f"{self.source}: a flow-style mapping ({{...}}) cannot be merged; use block style"
            )
        keys = [str(k.value) for k, _ in mapping.value]
        index = len(keys)
        if _is_sorted(keys):
            index = next((i for i, k in enumerate(keys) if k > key), len(keys))
        if index == 0 and parent_key is None and not keys:
            raise InvalidInput(f"{self.source}: the {KIND} document is empty")
        self.editor.insert_map_entry(parent_key, mapping, index, key, value)

    # -- the merge ---------------------------------------------------------------------------

    def run(self) -> str:
        root = self.doc.node
        if not isinstance(root, MappingNode):
            raise InvalidInput(f"{self.source}: the {KIND} document is not a mapping")
        args_value = extra_args_value(self.want.flags, self.api)
        volumes_value = [volume_value(m) for m in self.want.mounts]
        found = map_item(root, "apiServer")
        if found is None or self._empty(found[1]):
            value: Json = {"extraArgs": args_value}
            if volumes_value:
                value["extraVolumes"] = volumes_value
            self._set(None, root, "apiServer", value)
            return self.editor.render()
        api_key, api_node = found
        if not isinstance(api_node, MappingNode) or api_node.flow_style:
            raise InvalidInput(f"{self.source}: apiServer must be a block mapping to be merged")
        args = map_item(api_node, "extraArgs")
        if args is None or self._empty(args[1]):
            self._set(api_key, api_node, "extraArgs", args_value)
        elif isinstance(args[1], MappingNode) and not args[1].flow_style:
            self._merge_arg_map(args[0], args[1])
        elif isinstance(args[1], SequenceNode) and not args[1].flow_style:
            self._merge_arg_list(args[0], args[1])
        else:
            raise InvalidInput(
                f"{self.source}: apiServer.extraArgs must be written in block style to be merged"
            )
        vols = map_item(api_node, "extraVolumes")
        if vols is None or self._empty(vols[1]):
            if volumes_value:
                self._set(api_key, api_node, "extraVolumes", volumes_value)
        elif isinstance(vols[1], SequenceNode) and not vols[1].flow_style:
            self._merge_volumes(vols[0], vols[1])
        else:
            raise InvalidInput(f"{self.source}: apiServer.extraVolumes must be a block list to be merged")
        return self.editor.render()

    def _merge_arg_map(self, key: ScalarNode, node: MappingNode) -> None:
        raw = self.config.api_server.get("extraArgs") or {}
        missing: list[str] = []
        for name, value in self.want.flags.items():
            found = map_item(node, name)
            if found is None:
                missing.append(name)
            elif raw.get(name) != value:  # also an unquoted number: kubeadm wants strings
                self.editor.replace_scalar(found[1], value)
        keys = [str(k.value) for k, _ in node.value]
        for name in sorted(missing):
            index = len(keys)
            if _is_sorted(keys):
                index = next((i for i, k in enumerate(keys) if k > name), len(keys))
            self.editor.insert_map_entry(key, node, index, name, self.want.flags[name])

    def _merge_arg_list(self, key: ScalarNode, seq: SequenceNode) -> None:
        items = [to_plain(x) for x in self.config.api_server.get("extraArgs") or []]
        missing: list[str] = []
        for name, value in self.want.flags.items():
            hits = [i for i, item in enumerate(items) if item.get("name") == name]
            if not hits:
                missing.append(name)
                continue
            first = seq.value[hits[0]]
            assert isinstance(first, MappingNode)
            value_item = map_item(first, "value")
            if value_item is None:
                self.editor.insert_map_entry(None, first, len(first.value), "value", value)
            elif items[hits[0]].get("value") != value:
                self.editor.replace_scalar(value_item[1], value)
            for extra in hits[1:]:  # v1beta4 allows repeats; one value per audit flag is kept
                self.editor.delete_seq_item(seq, extra)
                self.notes.append(
                    f"removed a repeated extraArgs {name}={items[extra].get('value')} "
                    f"(kube-apiserver used the last one); {name} is now {value}"
                )
        names = [str(item.get("name")) for item in items]
        for name in sorted(missing) if _is_sorted(names) or len(names) < 2 else missing:
            at = len(seq.value)
            if _is_sorted(names):
                at = next((i for i, n in enumerate(names) if n > name), len(seq.value))
            self.editor.insert_seq_items(key, seq, at, [{"name": name, "value": self.want.flags[name]}])

    # -- volumes -------------------------------------------------------------------------------

    def _covering(self, vols: list[Json], path: str) -> int | None:
        best: int | None = None
        for i, vol in enumerate(vols):
            mount = _norm(vol.get("mountPath"))
            if (
                mount
                and path_within(path, mount)
                and (best is None or len(mount) > len(_norm(vols[best].get("mountPath"))))
            ):
                best = i
        return best

    def _merge_volumes(self, key: ScalarNode, seq: SequenceNode) -> None:
        vols = [to_plain(v) for v in self.config.api_server.get("extraVolumes") or []]
        old_paths = self._old_audit_paths()
        other_paths = [
            _norm(v)
            for k, v in self.config.extra_args.items()
            if not k.startswith("audit-") and str(v).startswith("/")
        ]
        needed: set[int] = set()
        replace: set[int] = set()
        missing: list[MountSpec] = []
        for spec in self.want.mounts:
            index = self._covering(vols, spec.path)
            if index is not None:
                vol = vols[index]
                writable_ok = spec.read_only or not vol.get("readOnly", False)
                rel = posixpath.relpath(spec.path, _norm(vol.get("mountPath")))
                maps_right = _norm(posixpath.join(str(vol.get("hostPath", "")), rel)) == spec.path
                ours = self._ours(vol, old_paths, other_paths)
                if not maps_right and not ours:
                    raise PreflightRefused(
                        f"{self.source}: extraVolume {vol.get('name')!r} at {vol.get('mountPath')} covers "
                        f"{spec.path} but mounts host path {vol.get('hostPath')}; the audit files would not "
                        f"be the host's {spec.path}: change that volume or choose another path"
                    )
                if writable_ok:
                    needed.add(index)
                    if vol.get("name") != spec.name or _norm(vol.get("hostPath")) != spec.path:
                        self.notes.append(
                            f"adopted extraVolume {vol.get('name')!r} ({vol.get('hostPath')} at "
                            f"{vol.get('mountPath')}) for {spec.path}"
                        )
                    continue
                if not ours:
                    raise PreflightRefused(
                        f"{self.source}: extraVolume {vol.get('name')!r} mounts {vol.get('mountPath')} "
                        f"read-only, but kube-apiserver must write the audit log in {spec.path}: make it "
                        "writable (readOnly: false) or choose another --log-path"
                    )
                replace.add(index)
                self.notes.append(
                    f"fixed extraVolume {vol.get('name')!r}: the log directory must be writable"
                )
            missing.append(spec)
        for i, vol in enumerate(vols):
            if i in needed or i in replace:
                continue
            if self._ours(vol, old_paths, other_paths) and not self._in_use(vol, needed, vols):
                replace.add(i)
                self.notes.append(f"removed extraVolume {vol.get('name')!r} (it mounted the old audit path)")
        # kubeadm keys volumes by name (two with one name would be one): a new volume takes its
        # own name unless a volume that stays has it
        names = {str(v.get("name")) for i, v in enumerate(vols) if i not in replace}
        new = [volume_value(spec, _free_name(spec.name, names)) for spec in missing]
        for i in sorted(replace):
            self.editor.delete_seq_item(seq, i)
        kept = [i for i in range(len(vols)) if i not in replace]
        # kubeadm's own output is sorted by name; a hand-kept list keeps its order, new items last
        in_order = _is_sorted([str(v.get("name")) for v in vols])
        sibling = vols[kept[0]] if kept else None
        for vol in sorted(new, key=lambda v: str(v["name"])) if in_order else new:
            at = len(seq.value)
            if in_order:
                at = next((i for i in kept if str(vols[i].get("name")) > vol["name"]), len(seq.value))
            self.editor.insert_seq_items(key, seq, at, [_ordered_like(vol, sibling)])

    def _old_audit_paths(self) -> set[str]:
        paths: set[str] = set()
        for flag in AUDIT_PATH_FLAGS:
            value = self.config.extra_args.get(flag)
            if value and value.startswith("/"):
                paths.add(_norm(value))
                paths.add(posixpath.dirname(_norm(value)))
        return paths

    def _ours(self, vol: Json, old_paths: set[str], other_paths: list[str]) -> bool:
        mount = _norm(vol.get("mountPath"))
        if not mount or any(path_within(p, mount) for p in other_paths):
            return False
        return mount in old_paths or vol.get("name") in (POLICY_VOLUME, LOG_VOLUME)

    def _in_use(self, vol: Json, needed: set[int], vols: list[Json]) -> bool:
        mount = _norm(vol.get("mountPath"))
        return any(path_within(_norm(vols[i].get("mountPath")), mount) for i in needed)


def _free_name(name: str, names: set[str]) -> str:
    candidate, n = name, 1
    while candidate in names:
        candidate = f"kauditcfg-{name}" if n == 1 else f"kauditcfg-{name}-{n}"
        n += 1
    names.add(candidate)
    return candidate


def _ordered_like(obj: Json, sibling: Json | None) -> Json:
    """New items keep the key order their neighbours use (kubeadm's marshaller sorts keys)."""
    if not sibling:
        return obj
    order = {key: i for i, key in enumerate(sibling)}
    return {k: obj[k] for k in sorted(obj, key=lambda k: (order.get(k, len(order)), list(obj).index(k)))}


def merge_audit(config: KubeadmConfig, want: AuditConfig, api_for_new: str) -> MergeResult:
    """The file's text with `want` in its ClusterConfiguration (a new document when it has none)."""
    if config.cluster is None:
        from kauditcfg.kubeadm.clusterconfig import render_cluster_configuration

        text = config.text
        nl = "\r\n" if "\r\n" in text else "\n"
        if text and not text.endswith("\n"):
            text += nl
        added = render_cluster_configuration(want, api_for_new).replace("\n", nl)
        separator = "---" + nl if text.strip() else ""
        return MergeResult(text + separator + added, [f"added a {KIND} document ({GROUP}/{api_for_new})"])
    merger = _Merger(config, want)
    text = merger.run()
    merged = load_kubeadm_config(text, config.source)  # never hand back text kubeadm cannot read
    got = merged.extra_args
    for name, value in want.flags.items():
        if got.get(name) != value:
            raise InvalidInput(
                f"{config.source}: refusing to write: the merged config does not set {name}={value} "
                "(a kauditcfg bug; please report it with the file); nothing was written"
            )
    return MergeResult(text, merger.notes)
