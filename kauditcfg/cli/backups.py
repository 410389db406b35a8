"""`rollback --list`: the backups on the node, newest first, as text (stdout) or one JSON object."""

from __future__ import annotations

import sys
from pathlib import Path

from kauditcfg.cli.output import emit_json, paint, say
from kauditcfg.config.defaults import BACKUP_DIR
from kauditcfg.hostfs import Host
from kauditcfg.ops.backup_catalog import Catalog, list_backups, rollback_action, root_option


def render(catalog: Catalog) -> str:
    """One header line per backup (name, time, command), then what restoring it does to each file."""
    lines = []
    for backup in catalog.backups:
        lines.append(f"{backup.name}  {backup.time}  {backup.command}")
        lines += [f"    {rollback_action(e):<7}  {e.path}" for e in backup.files]
    return "".join(line + "\n" for line in lines)


def list_command(root: Path, as_json: bool) -> None:
    host = Host(root)
    catalog = list_backups(host)
    if as_json:
        backups = [b.to_json() for b in catalog.backups]
        emit_json({"backups": backups, "warnings": catalog.notes, "errors": []})
        return
    for note in catalog.notes:
        say(paint("warning: ", "yellow") + note)
    where = host.path(BACKUP_DIR)
    if not catalog.backups:
        say(f"no backups in {where}")
        return
    sys.stdout.write(render(catalog))
    sys.stdout.flush()
    count = len(catalog.backups)
    again = f"kauditcfg rollback{root_option(host)}"
    say(f"{count} backup{'s' if count > 1 else ''} in {where}, newest first")
    say(f"undo the newest: {again}; go back to before another run: {again} --to NAME")
