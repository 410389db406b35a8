"""What the user asked `enable` (and `diff`) for, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kauditcfg.versions import Version
from kauditcfg.webhook.tuning import Tuning

if TYPE_CHECKING:
    from kauditcfg.webhook.backend import WebhookOptions

LOG_FORMATS = ("json", "legacy")


@dataclass
class EnableOptions:
    profile: str = "cks"
    policy_file: Path | None = None  # the user's own policy, a local path (not under --root)
    set_values: list[str] = field(default_factory=list)
    values_file: Path | None = None
    # None: keep the manifest's existing path (kauditcfg.config.adopt), else the default
    policy_path: str | None = None
    log_path: str | None = None
    log_maxage: int | None = None
    log_maxbackup: int | None = None
    log_maxsize: int | None = None
    log_format: str | None = None
    log_compress: bool | None = None
    kubernetes_version: Version | None = None
    fix_ownership: bool = False
    allow_unbounded: bool = False
    webhook: WebhookOptions | None = None  # --webhook-*: None without --webhook-url
    log_tuning: Tuning = field(default_factory=Tuning)  # --log-mode, --log-batch-*, --log-truncate-*
