"""The proposed policy as YAML: the base file's own text with the new lines inserted, comments kept.

Where the base text cannot take a plain insertion (a flow-style `rules: [...]`, an existing
`omitStages` without RequestReceived), the whole policy is written afresh instead. Either way the
result is loaded back and must equal the proposal, rule for rule.
"""

from __future__ import annotations

import json
import re

from kauditcfg.errors import KauditError
from kauditcfg.policy.budget import human_bytes
from kauditcfg.policy.load import validate_policy_text
from kauditcfg.policy.model import Policy, Rule
from kauditcfg.policy.replay import per_day
from kauditcfg.policy.tune import Added
from kauditcfg.versions import Version

_RULES = re.compile(r"^rules:[ \t]*(#.*)?$", re.M)
_ITEM = re.compile(r"^([ \t]*)- ", re.M)


def _q(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def rule_lines(rule: Rule, indent: str, comment: str | None = None) -> list[str]:
    pad = indent + "  "
    out = [f"{indent}# {line}" for line in (comment or "").splitlines()]
    out.append(f"{indent}- level: {json.dumps(rule.level)}")
    for name, value in (
        ("users", rule.users),
        ("userGroups", rule.user_groups),
        ("verbs", rule.verbs),
        ("namespaces", rule.namespaces),
        ("nonResourceURLs", rule.non_resource_urls),
        ("omitStages", rule.omit_stages),
    ):
        if value:
            out.append(f"{pad}{name}: {_q(value)}")
    if rule.resources:
        out.append(f"{pad}resources:")
        for gr in rule.resources:
            out.append(f"{pad}  - group: {json.dumps(gr.group)}")
            if gr.resources:
                out.append(f"{pad}    resources: {_q(gr.resources)}")
            if gr.resource_names:
                out.append(f"{pad}    resourceNames: {_q(gr.resource_names)}")
    if rule.omit_managed_fields is not None:
        out.append(f"{pad}omitManagedFields: {'true' if rule.omit_managed_fields else 'false'}")
    return out


def comment_for(added: Added, span: float) -> str:
    saved = per_day(added.saved_bytes, span)
    events = per_day(added.saved_events, span)
    cells = "; ".join(added.cells)
    what = "" if added.rule.level == "None" else ": bodies only"
    return (
        f"kauditcfg tune: saves {human_bytes(saved)}/day ({saved:,} bytes/day, {events:,} events/day{what}); "
        f"cell: {cells}"
    )


def policy_yaml(policy: Policy, comments: dict[int, str]) -> str:
    """The whole policy written afresh (used when the base text cannot take an insertion)."""
    lines = ["apiVersion: audit.k8s.io/v1", "kind: Policy"]
    if policy.omit_stages:
        lines.append(f"omitStages: {_q(policy.omit_stages)}")
    if policy.omit_managed_fields:
        lines.append("omitManagedFields: true")
    lines.append("rules:")
    for i, rule in enumerate(policy.rules):
        lines += rule_lines(rule, "  ", comments.get(i))
    return "\n".join(lines) + "\n"


def _inserted(base_text: str, base: Policy, proposal: Policy, new_rules: list[str]) -> str | None:
    match = _RULES.search(base_text)
    if match is None:
        return None
    after = base_text[match.end() :]
    item = _ITEM.search(after)
    indent = item.group(1) if item else "  "
    head: list[str] = []
    if proposal.omit_stages != base.omit_stages:
        if re.search(r"^omitStages\s*:", base_text, re.M):
            return None
        head.append(f"omitStages: {_q(proposal.omit_stages)}")
    if proposal.omit_managed_fields != base.omit_managed_fields:
        if re.search(r"^omitManagedFields\s*:", base_text, re.M):
            return None
        head.append("omitManagedFields: true")
    body = "".join(f"{indent}{line[2:]}\n" if line.startswith("  ") else f"{line}\n" for line in new_rules)
    before = base_text[: match.start()]
    added_head = "".join(f"{line}\n" for line in head)
    rest = after if after.startswith("\n") else "\n" + after
    return f"{before}{added_head}{base_text[match.start() : match.end()]}\n{body}{rest[1:]}"


def render_proposal(
    base_text: str, base: Policy, proposal: Policy, added: list[Added], span: float, version: Version
) -> str:
    """The YAML of `proposal`, as close to `base_text` as possible; always loads back to `proposal`."""
    new_rules: list[str] = []
    comments: dict[int, str] = {}
    for i, item in enumerate(added):
        comments[i] = comment_for(item, span)
        new_rules += rule_lines(item.rule, "  ", comments[i])
    text = _inserted(base_text, base, proposal, new_rules)
    if text is not None and _loads_as(text, proposal, version):
        return text
    text = policy_yaml(proposal, comments)
    if not _loads_as(text, proposal, version):
        raise KauditError(
            "kauditcfg wrote a proposal that does not load back as proposed: this is a bug in kauditcfg, "
            "not in your files; nothing was written"
        )
    return text


def _loads_as(text: str, policy: Policy, version: Version) -> bool:
    result = validate_policy_text(text, "proposal", version)
    return (
        result.policy is not None
        and result.policy.rules == policy.rules
        and (
            set(result.policy.omit_stages) == set(policy.omit_stages)
            and result.policy.omit_managed_fields == policy.omit_managed_fields
        )
    )
