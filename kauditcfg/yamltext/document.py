"""Parsing: the text, ruamel's node graph (with marks) and plain data of each YAML document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import Node

from kauditcfg.errors import InvalidInput

Path = tuple[str | int, ...]


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.allow_duplicate_keys = False
    return yaml


def to_plain(value: Any) -> Any:
    """ruamel's commented containers and scalar subclasses as plain dict/list/str/int/..."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return str(value)


@dataclass
class YamlDoc:
    """One parsed YAML document: its text, its node graph (with marks) and its plain data."""

    text: str
    node: Node
    data: Any
    source: str = "<text>"

    @property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"


def _problem(exc: YAMLError) -> str:
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        return f"{where}{what}".strip()
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def parse_documents(text: str, source: str) -> list[YamlDoc]:
    """Every non-empty document of `text`; InvalidInput (exit 3) for anything YAML refuses."""
    yaml = _yaml()
    try:
        nodes = [n for n in yaml.compose_all(text) if n is not None]
        # Constructing from the composed nodes saves a second parse (and checks duplicate keys).
        datas = [yaml.constructor.construct_document(n) for n in nodes]
    except YAMLError as exc:
        problem = _problem(exc)
        if "duplicate key" in problem or "found duplicate" in problem:
            raise InvalidInput(f"{source}: duplicate key: {problem}; remove the repeated key") from None
        raise InvalidInput(f"{source}: invalid YAML: {problem}; fix the syntax and run again") from None
    except Exception as exc:  # ruamel raises a few non-YAMLError types on odd input
        raise InvalidInput(f"{source}: invalid YAML: {exc}; fix the syntax and run again") from None
    return [YamlDoc(text, n, to_plain(d), source) for n, d in zip(nodes, datas, strict=True)]
