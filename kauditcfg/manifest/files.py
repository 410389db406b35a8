"""Reading the manifest and other node files under `--root`, shared by every command."""

from __future__ import annotations

from kauditcfg.errors import InvalidInput
from kauditcfg.hostfs import Host
from kauditcfg.manifest.pod import ApiServerPod, load_apiserver_pod


def read_manifest(host: Host, manifest: str) -> tuple[ApiServerPod, bytes, tuple[int, int, int]]:
    """The manifest as bytes and parsed, or InvalidInput (exit 3) naming the file."""
    real = host.path(manifest)
    data = host.read_bytes(manifest)
    if data is None:
        raise InvalidInput(f"{manifest}: no such file; pass --manifest with the kube-apiserver manifest path")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{manifest}: not UTF-8 text (byte {exc.start}); is this a manifest?") from None
    st = real.stat()
    return load_apiserver_pod(text, manifest), data, (st.st_mode & 0o7777, st.st_uid, st.st_gid)


def file_stat(host: Host, path: str) -> tuple[int, int, int] | None:
    try:
        st = host.path(path).stat()
    except FileNotFoundError:
        return None
    return st.st_mode & 0o7777, st.st_uid, st.st_gid
