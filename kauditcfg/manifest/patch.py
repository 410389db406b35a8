"""Compute the manifest text with the wanted audit configuration (or without any, for `disable`).

The edit is planned on the parsed pod, applied as splices on the original text, then the result is
parsed again and checked: the audit flags and mounts are what was asked, and everything else in
the pod is unchanged. A result that fails the check is never returned, and is reported as
kauditcfg's own failure, never as a problem in the user's file.
"""

from __future__ import annotations

from collections import defaultdict

from kauditcfg.config.audit import AuditConfig
from kauditcfg.config.defaults import ADOPTED_ANNOTATION, HASH_ANNOTATION
from kauditcfg.errors import InvalidInput
from kauditcfg.manifest.annotations import set_annotations
from kauditcfg.manifest.editing import sorted_run
from kauditcfg.manifest.pod import ApiServerPod, load_apiserver_pod, parse_flags
from kauditcfg.manifest.verify import internal_error, verify_patch
from kauditcfg.manifest.volumes import VolumeEditor


class _Patcher(VolumeEditor):
    def stray_flags(self) -> None:
        """Audit flags in `command` when the flags live in `args`: kube-apiserver sees both lists, so
        one left behind would duplicate (or, pflag's last-wins, silently override) what we set."""
        pod = self.pod
        if pod.flags_key != "args":
            return
        found = self.block_seq((*self.cpath, "command"))
        if found is None:
            return
        wanted = self.want.flags if self.want else {}
        for flag in parse_flags(list(pod.container.get("command") or [])):
            if flag.name.startswith("audit-") and (self.want is None or flag.name in wanted):
                for i in flag.indexes:
                    self.editor.delete_seq_item(found[1], i)

    def flags(self) -> None:
        pod, want = self.pod, self.want
        path = (*self.cpath, pod.flags_key)
        found = self.block_seq(path)
        wanted = want.flags if want else {}
        if found is None:
            if wanted:
                self.insert_new_key(self.cpath, pod.flags_key, [f"--{n}={v}" for n, v in wanted.items()])
            return
        key, seq = found
        items = pod.flag_items
        flags = pod.flags
        deleted: set[int] = set()
        seen: set[str] = set()
        for flag in flags:
            if not flag.name.startswith("audit-"):
                continue
            if flag.name in wanted and flag.name not in seen:
                seen.add(flag.name)
                text = f"--{flag.name}={wanted[flag.name]}"
                if flag.value_index is not None or items[flag.index] != text:
                    self.editor.guard(seq)
                    self.editor.replace_scalar(seq.value[flag.index], text)
                if flag.value_index is not None:
                    deleted.add(flag.value_index)
            elif want is None or flag.name in seen:
                deleted.update(flag.indexes)
        for i in sorted(deleted):
            self.editor.delete_seq_item(seq, i)

        missing = [n for n in wanted if n not in seen]
        kept = [f for f in flags if f.index not in deleted]
        after_last = max((max(f.indexes) for f in kept), default=len(items) - 1) + 1
        by_index: dict[int, list[str]] = defaultdict(list)
        run = sorted_run(kept)
        if run:
            # kubeadm sorts its flags; a hand edit often appends a few after them. New flags go to
            # their sorted place within the sorted run, never after the appended ones.
            run_end = max(max(f.indexes) for f in run) + 1
            for name in sorted(missing):
                at = next((f.index for f in run if f.name > name), run_end)
                by_index[at].append(f"--{name}={wanted[name]}")
        else:
            by_index[after_last] = [f"--{n}={wanted[n]}" for n in missing]
        for at, texts in sorted(by_index.items()):
            if texts:
                self.editor.insert_seq_items(key, seq, at, texts)

    # -- annotations ---------------------------------------------------------------------------

    def annotations(self) -> None:
        want = self.want
        wanted: dict[str, str | None] = {
            HASH_ANNOTATION: want.config_hash if want else None,
            ADOPTED_ANNOTATION: ",".join(sorted(self.adopted)) if want and self.adopted else None,
        }
        current = self.pod.annotations
        changes = {
            k: v for k, v in wanted.items() if current.get(k) != v and not (v is None and k not in current)
        }
        if changes:
            set_annotations(self, changes)


def patch_with_notes(pod: ApiServerPod, want: AuditConfig | None) -> tuple[ApiServerPod, list[str]]:
    """The pod with `want` applied (None: every audit setting removed), parsed from its new text,
    and what was fixed on the way (a log file mount replaced, a missing mount added)."""
    patcher = _Patcher(pod, want)
    patcher.flags()
    patcher.stray_flags()
    patcher.volumes()
    patcher.annotations()
    try:
        text = patcher.editor.render()
    except AssertionError as exc:
        raise internal_error(pod, f"overlapping edits ({exc})") from None
    if text == pod.doc.text:
        return pod, patcher.notes
    try:
        after = load_apiserver_pod(text, pod.doc.source)
    except InvalidInput as exc:
        # The input parsed; so this is our own edit's fault, whatever the parser says.
        problem = exc.message.removeprefix(pod.doc.source + ": ").split("; fix the syntax")[0]
        raise internal_error(pod, f"does not parse ({problem})") from None
    verify_patch(pod, after, want, patcher.removed_volumes | patcher.added_volumes)
    return after, patcher.notes


def patch_pod(pod: ApiServerPod, want: AuditConfig | None) -> ApiServerPod:
    """The pod with `want` applied (None: every audit setting removed), parsed from its new text."""
    return patch_with_notes(pod, want)[0]


def patch_manifest(pod: ApiServerPod, want: AuditConfig | None) -> str:
    """The manifest text with `want` applied (None: every audit setting removed)."""
    return patch_pod(pod, want).doc.text
