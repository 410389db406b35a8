"""Reading the manifest under `--root`, shared by every command."""

from __future__ import annotations

from kauditcfg.errors import InvalidInput
from kauditcfg.hostfs import Host, link_target
from kauditcfg.manifest.pod import ApiServerPod, load_apiserver_pod


def read_manifest(host: Host, manifest: str) -> tuple[ApiServerPod, bytes, tuple[int, int, int]]:
    """The manifest parsed, as bytes and its (mode, uid, gid); or InvalidInput (exit 3) naming the file."""
    try:
        link_target(host.path(manifest), host.root)
    except OSError as exc:
        raise InvalidInput(
            f"{manifest}: {exc.strerror} ({exc.filename}); point the link at a regular file under --root"
        ) from None
    data = host.read_bytes(manifest)
    stat = host.stat(manifest)
    if data is None or stat is None:
        raise InvalidInput(f"{manifest}: no such file; pass --manifest with the kube-apiserver manifest path")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{manifest}: not UTF-8 text (byte {exc.start}); is this a manifest?") from None
    return load_apiserver_pod(text, manifest), data, stat
