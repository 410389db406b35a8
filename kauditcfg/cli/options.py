"""Option declarations shared by the commands, declared once (enable and diff take the same set)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from kauditcfg.config.options import EnableOptions

Root = Annotated[
    Path,
    typer.Option(
        "--root",
        help="Resolve every host path under DIR (paths written into the manifest stay real host paths).",
        metavar="DIR",
    ),
]
Manifest = Annotated[
    str, typer.Option("--manifest", help="The kube-apiserver static pod manifest (a host path).")
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else there.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the diff, write nothing.")]
Profile = Annotated[str, typer.Option("--profile", help="Policy profile: cks, cis, production, minimal.")]
PolicyFile = Annotated[
    Path | None,
    typer.Option(
        "--policy-file",
        help="Bring your own policy (a local file) instead of the profile's; it is copied to --policy-path.",
        dir_okay=False,
    ),
]
SetValues = Annotated[
    list[str] | None, typer.Option("--set", help="Profile parameter key=value (repeatable).")
]
ValuesFile = Annotated[
    Path | None, typer.Option("--values", help="YAML file of profile parameters.", dir_okay=False)
]
PolicyPath = Annotated[str, typer.Option("--policy-path", help="Where the policy is written on the node.")]
LogPath = Annotated[str, typer.Option("--log-path", help="Audit log file on the node ('-' for stdout).")]
MaxAge = Annotated[
    int | None, typer.Option("--log-maxage", help="Days to keep old log files (profile default 30).")
]
MaxBackup = Annotated[
    int | None, typer.Option("--log-maxbackup", help="Old log files to keep (profile default 10).")
]
MaxSize = Annotated[
    int | None, typer.Option("--log-maxsize", help="MB before a log file is rotated (profile default 100).")
]
LogFormat = Annotated[str | None, typer.Option("--log-format", help="json or legacy.")]
LogCompress = Annotated[
    bool | None,
    typer.Option("--log-compress/--no-log-compress", help="gzip rotated log files.", show_default=False),
]
K8sVersion = Annotated[
    str | None, typer.Option("--kubernetes-version", help="X.Y (default: from the manifest's image tag).")
]
FixOwnership = Annotated[
    bool, typer.Option("--fix-ownership", help="chown/chmod the log directory for the pod's runAsUser.")
]
AllowUnbounded = Annotated[
    bool,
    typer.Option(
        "--allow-unbounded", help="Accept --log-maxbackup 0 or --log-maxsize 0 (no retention limit)."
    ),
]

KeepBackups = Annotated[
    int,
    typer.Option(
        "--keep-backups",
        help="After a change, keep only the newest N backups (0: keep them all).",
        metavar="N",
        min=0,
    ),
]


def enable_options(given: dict[str, Any]) -> EnableOptions:
    """EnableOptions from a command's parameters (named as its fields), so enable and diff share it."""
    from kauditcfg.config.options import EnableOptions
    from kauditcfg.versions import parse_version

    names = {f.name for f in dataclasses.fields(EnableOptions)}
    values = {k: v for k, v in given.items() if k in names}
    values["set_values"] = list(values.get("set_values") or [])
    version = values.get("kubernetes_version")
    values["kubernetes_version"] = parse_version(version) if version else None
    return EnableOptions(**values)
