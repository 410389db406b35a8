"""What kauditcfg wrote on this node, so `disable --purge` removes only its own files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from kauditcfg.hostfs import STATE_DIR, Host, atomic_write

STATE_FILE = STATE_DIR + "/state.json"


@dataclass
class State:
    written: list[str] = field(default_factory=list)


def load_state(host: Host) -> State:
    raw = host.read_bytes(STATE_FILE)
    if raw is None:
        return State()
    try:
        data = json.loads(raw)
        return State(written=[str(p) for p in data.get("written", [])])
    except (ValueError, AttributeError):
        return State()


def save_state(host: Host, state: State) -> None:
    body = json.dumps({"written": sorted(set(state.written))}, indent=2).encode()
    atomic_write(host.path(STATE_FILE), body, 0o600)
