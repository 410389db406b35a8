"""state.json: what kauditcfg wrote; a corrupt file is refused, never read as empty."""

from __future__ import annotations

import pytest

from kauditcfg.config.defaults import STATE_FILE
from kauditcfg.errors import EXIT_INVALID, InvalidInput
from kauditcfg.hostfs import Host
from kauditcfg.ops.plan import MANIFEST, FileChange
from kauditcfg.ops.state import State, load_state, save_state


def test_missing_state_is_empty(host: Host) -> None:
    assert load_state(host) == State()


def test_round_trip_sorted_and_deduplicated(host: Host) -> None:
    save_state(host, State(["/b", "/a", "/b"]))
    assert load_state(host).written == ["/a", "/b"]
    assert host.path(STATE_FILE).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"written": "x"}', b'{"written": [1]}', b"{}"])
def test_corrupt_state_is_refused_naming_the_file(host: Host, body: bytes) -> None:
    path = host.path(STATE_FILE)
    path.parent.mkdir(parents=True)
    path.write_bytes(body)
    with pytest.raises(InvalidInput) as caught:
        load_state(host)
    assert STATE_FILE in str(caught.value) and caught.value.exit_code == EXIT_INVALID


def test_after_records_owned_files_and_forgets_removed_ones() -> None:
    changes = [
        FileChange("/etc/kubernetes/audit/policy.yaml", None, b"p", owned=True),
        FileChange("/etc/kubernetes/manifests/kube-apiserver.yaml", b"a", b"b", MANIFEST),
        FileChange("/old/policy.yaml", b"p", None, owned=True),
    ]
    state = State(["/old/policy.yaml"]).after(changes)
    assert state.written == ["/etc/kubernetes/audit/policy.yaml"]
