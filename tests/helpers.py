"""Paths of the project's fixtures and the shared corpus, and a tree snapshot to prove nothing changed."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures" / "manifests"
BROKEN = REPO / "fixtures" / "broken"
GOLDEN = REPO / "fixtures" / "golden"
CORPUS = REPO.parent / "shared" / "corpus" / "manifests"
MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"


def fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("*.yaml"))


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.yaml")) if CORPUS.is_dir() else []


def tree_snapshot(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every path under root with its bytes (None for directories) and mode: to prove nothing changed."""
    snap: dict[str, tuple[bytes | None, int]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        snap[str(path.relative_to(root))] = (path.read_bytes() if path.is_file() else None, st.st_mode)
    return snap
