"""What kauditcfg wrote on this node, so `disable --purge` removes only its own files, unedited."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from kauditcfg.config.defaults import STATE_DIR, STATE_FILE
from kauditcfg.errors import InvalidInput
from kauditcfg.hostfs import Host
from kauditcfg.ops.fs import FS
from kauditcfg.ops.plan import FileChange
from kauditcfg.ops.writer import atomic_write


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class State:
    written: list[str] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)  # path -> digest of the bytes kauditcfg wrote

    def after(self, changes: list[FileChange]) -> State:
        """The state once `changes` are applied: owned files written, removed files forgotten."""
        written = set(self.written)
        sums = dict(self.sha256)
        for change in changes:
            if change.after is None:
                written.discard(change.path)
                sums.pop(change.path, None)
            elif change.owned:
                written.add(change.path)
                sums[change.path] = digest(change.after)
        return State(sorted(written), {p: sums[p] for p in sorted(sums) if p in written})

    def edited(self, path: str, current: bytes) -> bool:
        """True when the file no longer holds what kauditcfg wrote (unknown for old state: False)."""
        recorded = self.sha256.get(path)
        return recorded is not None and recorded != digest(current)

    def encode(self) -> bytes:
        body: dict[str, object] = {"written": sorted(set(self.written))}
        if self.sha256:
            body["sha256"] = dict(sorted(self.sha256.items()))
        return json.dumps(body, indent=2).encode()


def parse_state(raw: bytes) -> State:
    try:
        data = json.loads(raw)
        written = data["written"]
        sums = data.get("sha256", {})
        if not isinstance(written, list) or not all(isinstance(p, str) for p in written):
            raise TypeError
        if not isinstance(sums, dict) or not all(isinstance(v, str) for v in sums.values()):
            raise TypeError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidInput(
            f'{STATE_FILE}: corrupt (expected {{"written": [paths]}}); fix or remove it, then run again'
        ) from None
    return State(written=list(written), sha256={str(k): v for k, v in sums.items()})


def load_state(host: Host) -> State:
    """The recorded state; a file that does not parse is refused, never read as empty.

    Read as empty, `disable --purge` would forget the files kauditcfg wrote.
    """
    raw = host.read_bytes(STATE_FILE)
    return State() if raw is None else parse_state(raw)


def save_state(host: Host, state: State, fs: FS | None = None) -> None:
    from kauditcfg.ops.backup import make_dirs

    fs = fs or FS(host.root)
    make_dirs(fs, host, STATE_DIR)
    atomic_write(host.path(STATE_FILE), state.encode(), 0o600, fs=fs)
