"""What kauditcfg wrote on this node, so `disable --purge` removes only its own files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from kauditcfg.config.defaults import STATE_FILE
from kauditcfg.errors import InvalidInput
from kauditcfg.hostfs import Host
from kauditcfg.ops.plan import FileChange
from kauditcfg.ops.writer import atomic_write


@dataclass
class State:
    written: list[str] = field(default_factory=list)

    def after(self, changes: list[FileChange]) -> State:
        """The state once `changes` are applied: owned files written, removed files forgotten."""
        written = set(self.written)
        for change in changes:
            if change.after is None:
                written.discard(change.path)
            elif change.owned:
                written.add(change.path)
        return State(sorted(written))


def load_state(host: Host) -> State:
    """The recorded state; a file that does not parse is refused, never read as empty.

    Read as empty, `disable --purge` would forget the files kauditcfg wrote.
    """
    raw = host.read_bytes(STATE_FILE)
    if raw is None:
        return State()
    try:
        data = json.loads(raw)
        written = data["written"]
        if not isinstance(written, list) or not all(isinstance(p, str) for p in written):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(
            f'{STATE_FILE}: corrupt (expected {{"written": [paths]}}); fix or remove it, then run again'
        ) from None
    return State(written=list(written))


def save_state(host: Host, state: State) -> None:
    body = json.dumps({"written": sorted(set(state.written))}, indent=2).encode()
    atomic_write(host.path(STATE_FILE), body, 0o600)
