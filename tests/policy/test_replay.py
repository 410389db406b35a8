"""`policy replay` as a user runs it: bytes per rule agree with an independent re-serialisation of the
log, must-keep requests are reported, bad input gets one clear line, the HTML page holds the JSON's
numbers and loads nothing remote."""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from kauditcfg.cli import app
from kauditcfg.policy.evaluate import Evaluator
from kauditcfg.policy.load import validate_policy_text
from kauditcfg.policy.model import Policy, Request
from kauditcfg.profiles import get_profile, render_policy
from tests.policy.loggen import generate

runner = CliRunner()
VERSION = (1, 30)
GCE = Path(__file__).parent / "data" / "gce-reference-policy.yaml"
PROFILES = ["cks", "cis", "production", "minimal"]


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "audit.log"
    with path.open("wb") as handle:
        generate(handle, seconds=1800, nodes=5)
    return path


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("policies")
    out = {"gce": GCE}
    for name in PROFILES:
        out[name] = base / f"{name}.yaml"
        out[name].write_text(render_policy(get_profile(name), None, VERSION))
    return out


def load(path: Path) -> Policy:
    policy = validate_policy_text(path.read_text(), str(path), VERSION).policy
    assert policy is not None
    return policy


def _request(ev: dict[str, Any]) -> Request:
    user = ev.get("user") or {}
    ref = ev.get("objectRef")
    who = {"verb": ev["verb"], "user": user.get("username"), "groups": tuple(user.get("groups", ()))}
    if ref is None:
        return Request(**who, is_resource=False, path=ev["requestURI"].split("?")[0])
    return Request(
        **who,
        namespace=ref.get("namespace", ""),
        api_group=ref.get("apiGroup", ""),
        resource=ref["resource"],
        subresource=ref.get("subresource", ""),
        name=ref.get("name", ""),
    )


def expected_bytes(log: Path, policy: Policy) -> dict[int | None, int]:
    """What the candidate writes, by rewriting every event as kube-apiserver would and measuring it."""
    evaluator = Evaluator(policy)
    per_rule: dict[int | None, int] = defaultdict(int)
    for line in log.read_bytes().splitlines():
        ev = orjson.loads(line)
        d = evaluator.evaluate(_request(ev))
        if d.level == "None" or ev["stage"] in d.omit_stages:
            continue
        ev["level"] = d.level
        if d.level == "Metadata":
            ev.pop("requestObject", None)
        if d.level != "RequestResponse":
            ev.pop("responseObject", None)
        if d.omit_managed_fields:
            for body in (ev.get("requestObject"), ev.get("responseObject")):
                for obj in [body, *((body or {}).get("items") or [])]:
                    if obj:
                        obj.get("metadata", {}).pop("managedFields", None)
        per_rule[d.rule] += len(orjson.dumps(ev)) + 1
    return per_rule


def replay_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["policy", "replay", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", PROFILES)
def test_bytes_per_rule_agree_with_an_independent_rewrite(
    name: str, log: Path, policies: dict[str, Path]
) -> None:
    want = expected_bytes(log, load(policies[name]))
    got = replay_json("--policy", str(policies[name]), str(log))
    rules = {r["index"]: r["bytes"] for r in got["rules"]}
    for index, size in want.items():
        assert abs(rules[index] - size) <= 0.01 * size, (index, rules[index], size)
    for index, size in rules.items():
        if index not in want:
            assert size == 0, index
    total = sum(want.values())
    assert abs(got["totals"]["bytes"] - total) <= 0.01 * total
    assert got["totals"]["estimated_bytes"] == 0  # captured at RequestResponse: nothing to guess
    span = got["span_seconds"]
    assert got["totals"]["bytes_per_day"] == round(got["totals"]["bytes"] * 86400 / span)


def test_json_has_the_documented_shape(log: Path, policies: dict[str, Path]) -> None:
    got = replay_json("--policy", str(policies["cks"]), str(log))
    assert {"span_seconds", "totals", "rules", "top_cells", "coverage", "skipped_lines"} <= set(got)
    assert {"events", "requests", "bytes", "bytes_per_day", "gzip_bytes_per_day", "estimated_bytes"} <= set(
        got["totals"]
    )
    assert {"index", "level", "events", "requests", "bytes", "bytes_per_day"} <= set(got["rules"][0])
    # The gzip figure is measured, not a fixed ratio: well below raw, above nothing.
    assert 0 < got["totals"]["gzip_bytes_per_day"] < got["totals"]["bytes_per_day"] / 3
    # Per-node users are grouped, and the biggest cell is a heartbeat, not a person.
    assert len(got["top_cells"]) == 20
    assert all(not c["who"].startswith("system:node:") for c in got["top_cells"])
    sizes = [c["bytes_per_day"] for c in got["top_cells"]]
    assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("name", PROFILES)
def test_shipped_profiles_keep_every_must_keep_request(
    name: str, log: Path, policies: dict[str, Path]
) -> None:
    got = replay_json("--policy", str(policies[name]), str(log))
    assert got["coverage"]["violations"] == []


def test_gce_reference_loses_event_deletes_and_anonymous_requests(
    log: Path, policies: dict[str, Path]
) -> None:
    got = replay_json("--policy", str(policies["gce"]), str(log))
    rows = {v["row"]: v for v in got["coverage"]["violations"]}
    assert set(rows) == {"K11", "K20", "K21"}
    assert "bob delete events in prod" in rows["K21"]["example"] and "dropped" in rows["K21"]["example"]


def test_a_candidate_blind_to_kube_system_and_logging_tokens_is_reported(log: Path, tmp_path: Path) -> None:
    # The cks profile as it used to be: kube-system reads silenced for everyone above the Secret
    # rule, and serviceaccounts/token at RequestResponse.
    old = tmp_path / "old-cks.yaml"
    old.write_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n"
        "- level: RequestResponse\n"
        "  resources: [{group: '', resources: [pods/exec, serviceaccounts/token]}]\n"
        "- level: None\n  verbs: [get, list, watch]\n  namespaces: [kube-system]\n"
        "- level: Metadata\n  resources: [{group: '', resources: [secrets, configmaps]}]\n"
        "- level: Metadata\n"
    )
    got = replay_json("--policy", str(old), str(log))
    rows = {v["row"]: v for v in got["coverage"]["violations"]}
    assert {"K1", "K4", "K12", "K13", "K20"} <= set(rows)
    assert "<no user: 401> list secrets in kube-system (401): dropped" in rows["K12"]["example"]
    assert "its body reaches the log" in rows["K4"]["example"]


def test_shipped_cks_and_cis_write_at_most_40_percent_of_the_gce_reference(
    log: Path, policies: dict[str, Path]
) -> None:
    gce = replay_json("--policy", str(policies["gce"]), str(log))["totals"]["bytes_per_day"]
    for name in ("cks", "cis"):
        got = replay_json("--policy", str(policies[name]), str(log))
        assert got["totals"]["bytes_per_day"] <= 0.4 * gce, name
        # and a human's write still carries its request body
        writes = [r for r in got["rules"] if r["level"] == "Request" and r["bytes"] > 0]
        assert writes


def test_a_metadata_capture_estimates_the_bodies_a_request_candidate_would_add(
    log: Path, policies: dict[str, Path], tmp_path: Path
) -> None:
    # Downgrade the capture to Metadata for node status patches only; the estimate comes from the
    # other (RequestResponse) events of the same kind... which do not exist, so take half the log.
    lines = log.read_bytes().splitlines()
    out = []
    for i, line in enumerate(lines):
        ev = orjson.loads(line)
        if ev.get("objectRef", {}).get("subresource") == "status" and i % 2:
            ev["level"] = "Metadata"
            ev.pop("requestObject", None)
            ev.pop("responseObject", None)
        out.append(orjson.dumps(ev))
    meta_log = tmp_path / "half-metadata.log"
    meta_log.write_bytes(b"\n".join(out) + b"\n")
    full = replay_json("--policy", str(policies["production"]), str(log))
    half = replay_json("--policy", str(policies["production"]), str(meta_log))
    assert half["totals"]["estimated_bytes"] > 0
    assert half["capture"]["capture_levels"]["Metadata"] > 0
    assert abs(half["totals"]["bytes"] - full["totals"]["bytes"]) <= 0.05 * full["totals"]["bytes"]


def test_gz_rotations_eventlists_and_several_files_add_up(
    log: Path, policies: dict[str, Path], tmp_path: Path
) -> None:
    lines = log.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    (tmp_path / "audit-1.log.gz").write_bytes(gzip.compress(b"".join(lines[:half])))
    (tmp_path / "audit.log").write_bytes(b"".join(lines[half:]))
    whole = replay_json("--policy", str(policies["cis"]), str(log))
    split = replay_json(
        "--policy", str(policies["cis"]), str(tmp_path / "audit.log"), str(tmp_path / "audit-1.log.gz")
    )
    # Counts are exact; byte figures rest on samples (managedFields, compression): close, not equal.
    for key, tolerance in (("gzip_bytes_per_day", 0.1), ("bytes", 0.005), ("bytes_per_day", 0.005)):
        want = whole["totals"].pop(key)
        assert abs(split["totals"].pop(key) - want) <= tolerance * want, key
    assert split["totals"] == whole["totals"]
    events = [orjson.loads(line) for line in lines[:50]]
    (tmp_path / "batch.json").write_bytes(
        orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": events})
    )
    batch = replay_json("--policy", str(policies["minimal"]), str(tmp_path / "batch.json"))
    assert batch["capture"]["lines"] == 50 and batch["skipped_lines"] == 0


def test_bad_lines_are_skipped_and_counted(log: Path, policies: dict[str, Path], tmp_path: Path) -> None:
    lines = log.read_bytes().splitlines(keepends=True)[:200]
    noisy = tmp_path / "noisy.log"
    noisy.write_bytes(
        b"\xef\xbb\xbf"
        + b"".join(lines[:100])
        + b"{torn line\n"
        + b'{"foo": 1}\n'
        + b"".join(lines[100:])
        + b"\xff\xfe not json\n"
    )
    result = runner.invoke(app, ["policy", "replay", "--json", "--policy", str(policies["cks"]), str(noisy)])
    assert result.exit_code == 0
    got = json.loads(result.stdout)
    assert got["skipped_lines"] == 3 and got["capture"]["lines"] == 200
    assert f"{noisy}:101: skipped" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no audit events to replay"),
        (b"not json\n{also not\n", "no audit events to replay (2 bad line(s) skipped)"),
    ],
)
def test_an_empty_log_or_only_bad_lines_is_one_clear_error(
    content: bytes, message: str, tmp_path: Path, policies: dict[str, Path]
) -> None:
    bad = tmp_path / "bad.log"
    bad.write_bytes(content)
    result = runner.invoke(app, ["policy", "replay", "--policy", str(policies["cks"]), str(bad)])
    assert result.exit_code == 3
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and message in errors[0] and str(bad) in errors[0]
    assert "Traceback" not in result.output


def test_a_missing_log_and_an_invalid_policy_are_clear_errors(
    log: Path, tmp_path: Path, policies: dict[str, Path]
) -> None:
    result = runner.invoke(
        app, ["policy", "replay", "--policy", str(policies["cks"]), str(tmp_path / "nope")]
    )
    assert result.exit_code == 3 and "nope: cannot read" in result.stderr
    broken = tmp_path / "p.yaml"
    broken.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Sometimes\n")
    result = runner.invoke(app, ["policy", "replay", "--policy", str(broken), str(log)])
    assert result.exit_code == 3 and "rules[0].level" in result.stderr


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.remote: list[str] = []
        self.per_day: list[int] = []
        self.svg = 0
        self.data = ""
        self._in_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name):
                self.remote.append(str(found[name]))
        if tag == "svg":
            self.svg += 1
        if "data-bytes-per-day" in found:
            self.per_day.append(int(str(found["data-bytes-per-day"])))
        self._in_data = tag == "script" and found.get("id") == "kauditcfg-data"

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self.data += data

    def handle_endtag(self, tag: str) -> None:
        self._in_data = False


def test_html_report_holds_the_json_numbers_and_loads_nothing_remote(
    log: Path, tmp_path: Path, policies: dict[str, Path]
) -> None:
    page = tmp_path / "report.html"
    got = replay_json("--policy", str(policies["cks"]), str(log), "--html", str(page))
    html = page.read_text()
    parser = _Page()
    parser.feed(html)
    assert parser.remote == [] and not re.search(
        r"https?://|@import|url\(", html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert parser.svg == 1 and "<rect" in html
    assert parser.per_day == [r["bytes_per_day"] for r in got["rules"]]
    assert json.loads(parser.data)["totals"] == got["totals"]


def test_stdin_and_the_gzip_fallback_read_the_same(
    log: Path, policies: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kauditcfg.policy.replay_read as reader

    lines = log.read_bytes().splitlines(keepends=True)[:3000]
    plain = tmp_path / "part.log"
    plain.write_bytes(b"".join(lines))
    want = replay_json("--policy", str(policies["cis"]), str(plain))
    result = runner.invoke(
        app, ["policy", "replay", "--json", "--policy", str(policies["cis"]), "-"], input=plain.read_bytes()
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["totals"] == want["totals"]
    packed = tmp_path / "part.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    monkeypatch.setattr(reader, "_gzip", gzip)  # python-isal missing: the stdlib reads it
    assert replay_json("--policy", str(policies["cis"]), str(packed))["totals"] == want["totals"]


def test_a_rotation_truncated_mid_write_is_reported_not_fatal(
    log: Path, policies: dict[str, Path], tmp_path: Path
) -> None:
    data = gzip.compress(log.read_bytes())
    cut = tmp_path / "audit-2.log.gz"
    cut.write_bytes(data[: len(data) // 2])
    result = runner.invoke(app, ["policy", "replay", "--json", "--policy", str(policies["cks"]), str(cut)])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["skipped_lines"] == 1 and got["capture"]["lines"] > 0
    assert "truncated or corrupt file" in result.stderr


def test_request_received_lines_a_capture_omitted_are_estimated(log: Path, tmp_path: Path) -> None:
    keep_all = tmp_path / "all.yaml"
    keep_all.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
    trimmed = tmp_path / "no-received.log"
    trimmed.write_bytes(
        b"".join(
            line
            for line in log.read_bytes().splitlines(keepends=True)
            if b'"stage":"RequestReceived"' not in line
        )
    )
    full = replay_json("--policy", str(keep_all), str(log))["totals"]
    guessed = replay_json("--policy", str(keep_all), str(trimmed))["totals"]
    assert full["estimated_bytes"] == 0 and guessed["estimated_bytes"] > 0.4 * guessed["bytes"]
    assert abs(guessed["bytes"] - full["bytes"]) <= 0.01 * full["bytes"]


def test_a_pretty_printed_event_counts_as_the_compact_line_kube_apiserver_writes(
    log: Path, policies: dict[str, Path], tmp_path: Path
) -> None:
    line = log.read_bytes().splitlines()[1]
    pretty = tmp_path / "one.json"
    pretty.write_text(json.dumps(json.loads(line), indent=2))
    got = replay_json("--policy", str(policies["minimal"]), str(pretty))
    assert got["capture"]["lines"] == 1 and got["skipped_lines"] == 0
    ev = json.loads(line)
    ev["level"] = "Metadata"
    ev.pop("requestObject", None), ev.pop("responseObject", None)
    assert got["totals"]["bytes"] == len(orjson.dumps(ev)) + 1
