"""Property: whatever comments, blank lines and trailing spaces a human adds to a kubeadm manifest,
enable only adds lines, a second enable changes nothing, and disable gives back the exact bytes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import FIXTURES
from tests.manifest.test_patch import CONFIG, added_and_removed, disable_text, enable_text

BASES = [
    (FIXTURES / name).read_text()
    for name in (
        "kubeadm-v1.30.4.yaml",
        "kubeadm-v1.19.16.yaml",
        "kubeadm-v1.28.9-indented.yaml",
        "kops-v1.27.3-args.yaml",
    )
]

edits = st.lists(
    st.tuples(
        st.sampled_from(["comment", "blank", "trailing", "inline"]),
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=12),
        st.text(alphabet="abc xyz-#:éж", min_size=0, max_size=20),
    ),
    max_size=12,
)


def mutate(text: str, changes: list[tuple[str, int, int, str]]) -> str:
    lines = text.split("\n")
    for kind, where, indent, words in changes:
        i = where % len(lines)
        if kind == "comment":
            lines.insert(i, " " * indent + "# " + words)
        elif kind == "blank":
            lines.insert(i, " " * (indent % 3))
        elif kind == "trailing" and lines[i].strip() and "#" not in lines[i]:
            lines[i] += " " * (1 + indent % 3)
        elif kind == "inline" and lines[i].strip() and "#" not in lines[i] and not lines[i].endswith(" "):
            lines[i] += "  # " + words
    return "\n".join(lines)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(BASES), changes=edits)
def test_hand_formatting_survives_enable_and_disable(
    base: str, changes: list[tuple[str, int, int, str]]
) -> None:
    original = mutate(base, changes)
    enabled = enable_text(original)
    _, removed = added_and_removed(original, enabled)
    assert removed == []
    assert enable_text(enabled, CONFIG) == enabled
    assert disable_text(enabled) == original
