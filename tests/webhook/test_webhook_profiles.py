"""`profiles show` lists the webhook's default mode and batching, as enable writes them."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from kauditcfg.cli import app
from kauditcfg.profiles import PROFILES

runner = CliRunner()


def test_profiles_show_lists_the_webhook_defaults() -> None:
    res = runner.invoke(app, ["profiles", "show", "cks"])
    assert res.exit_code == 0
    text = res.stdout
    assert "webhook flags (with --webhook-url" in text
    for line in (
        "  --audit-webhook-mode=batch\n",
        "  --audit-webhook-batch-buffer-size=10000\n",
        "  --audit-webhook-batch-max-size=400\n",
        "  --audit-webhook-batch-max-wait=30s\n",
        "  --audit-webhook-batch-throttle-qps=10\n",
        "  --audit-webhook-batch-throttle-burst=15\n",
        "  --audit-webhook-initial-backoff=10s\n",
    ):
        assert line in text


def test_profiles_show_json_has_webhook_flags_for_every_profile() -> None:
    for name in PROFILES:
        res = runner.invoke(app, ["profiles", "show", name, "--json"])
        assert res.exit_code == 0
        shown = json.loads(res.stdout)["webhook_flags"]
        assert shown == {f"--{k}": v for k, v in PROFILES[name].webhook_flags.items()}
        assert shown["--audit-webhook-mode"] == "batch"
