"""`verify`: prove audit logging works end to end on this node.

A harmless request nobody else makes (GET of a namespace with a random name, which does not exist:
404, nothing created) is sent through the API; its event must then appear in the audit log file on
this node. The event's level is reported with the policy rule that decided it. Audit flags can be
set and the log stay empty (wrong mount, a policy that drops everything, a restart that never
happened): only a real request shows it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kauditcfg.cluster.client import Cluster, NotFound
from kauditcfg.errors import InvalidInput, UsageError
from kauditcfg.hostfs import Host

POLL_SECONDS = 0.5
PREFIX = "kauditcfg-verify-"


@dataclass
class VerifyResult:
    found: bool
    log_path: str
    probe: str  # the namespace name asked for
    level: str | None = None
    stage: str | None = None
    audit_id: str | None = None
    user: str | None = None
    rule: int | None = None  # 0-based index in the policy, as kube-apiserver counts
    policy_path: str | None = None
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "log_path": self.log_path,
            "probe": f"/api/v1/namespaces/{self.probe}",
            "level": self.level,
            "stage": self.stage,
            "auditID": self.audit_id,
            "user": self.user,
            "rule": self.rule,
            "policy": self.policy_path,
            "warnings": self.warnings,
            "errors": [],
        }


class _LogTail:
    """New lines of the audit log since the probe, across a rotation (a rename and a new file)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.inode, self.offset = self._where()

    def _where(self) -> tuple[int | None, int]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None, 0
        return st.st_ino, st.st_size

    def read(self) -> list[bytes]:
        inode, size = self._where()
        if inode is None:
            return []
        if inode != self.inode or size < self.offset:
            self.inode, self.offset = inode, 0  # rotated: the new file from its start
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        self.offset += end
        return data[:end].splitlines()


def _match(lines: list[bytes], probe: str) -> list[dict[str, Any]]:
    events = []
    needle = probe.encode()
    for line in lines:
        if needle not in line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            # --audit-log-format=legacy: `AUDIT: id="..." stage="..." ... uri="..."`, no level
            text = line.decode("utf-8", errors="replace")
            match = re.search(r'\bid="([^"]*)".*\bstage="([^"]*)"', text)
            events.append(
                {"legacy": True, "auditID": match and match.group(1), "stage": match and match.group(2)}
            )
            continue
        if isinstance(event, dict) and probe in str(event.get("requestURI", "")):
            events.append(event)
    return events


def _rule_for(
    host: Host, policy_path: str | None, event: dict[str, Any], version: tuple[int, int]
) -> tuple[int | None, list[str]]:
    """Which rule of the policy on disk gives this event its level (first match wins)."""
    if not policy_path:
        return None, []
    data = host.read_bytes(policy_path)
    if data is None:
        return None, [f"{policy_path}: not found on this node; the matching rule cannot be named"]
    import msgspec

    from kauditcfg.policy.evaluate import Evaluator
    from kauditcfg.policy.events import Event, request_of
    from kauditcfg.policy.load import validate_policy_text

    loaded = validate_policy_text(data.decode("utf-8", errors="replace"), policy_path, version)
    if loaded.policy is None or not loaded.ok:
        return None, [f"{policy_path}: the policy does not load; the matching rule cannot be named"]
    decision = Evaluator(loaded.policy).evaluate(
        request_of(msgspec.json.decode(json.dumps(event), type=Event))
    )
    warnings = []
    if decision.level != event.get("level"):
        warnings.append(
            f"{policy_path} gives this request level {decision.level}, but kube-apiserver logged it at "
            f"{event.get('level')}: it reads the policy only at start; restart it to load the file on disk"
        )
    return decision.rule, warnings


def verify_audit(
    cluster: Cluster,
    host: Host,
    log_path: str,
    policy_path: str | None,
    version: tuple[int, int],
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> VerifyResult:
    if log_path == "-":
        raise UsageError(
            "--audit-log-path is '-': kube-apiserver writes audit events to its stdout; read them with "
            "`crictl logs` on the node, or pass --log-path with a log file"
        )
    if not log_path.startswith("/"):
        raise UsageError(f"--log-path {log_path!r}: must be an absolute path on the node")
    real = host.path(log_path)
    if real.is_dir():
        raise InvalidInput(f"{log_path}: is a directory; --audit-log-path names the log file")
    tail = _LogTail(str(real))
    probe = PREFIX + uuid.uuid4().hex[:16]
    # 404 is expected: the namespace does not exist; the request is audited all the same.
    with contextlib.suppress(NotFound):
        cluster.request(
            "GET",
            f"/api/v1/namespaces/{probe}",
            f"namespace {probe}",
            headers={"User-Agent": f"kauditcfg-verify/{probe}"},
        )
    result = VerifyResult(found=False, log_path=log_path, probe=probe, policy_path=policy_path)
    started = clock()
    while True:
        events = _match(tail.read(), probe)
        if events:
            complete = [e for e in events if e.get("stage") == "ResponseComplete"]
            event = (complete or events)[-1]
            result.found = True
            result.level = event.get("level")
            result.stage = event.get("stage")
            result.audit_id = event.get("auditID")
            result.user = (event.get("user") or {}).get("username")
            if event.get("legacy"):
                result.warnings.append("the log is in the legacy format, which does not record the level")
            else:
                result.rule, result.warnings = _rule_for(host, policy_path, event, version)
            return result
        if clock() - started >= timeout:
            if not real.exists():
                result.warnings.append(f"{log_path}: the file does not exist on this node")
            return result
        sleep(POLL_SECONDS)
