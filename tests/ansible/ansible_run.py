"""Drive the role with the real ansible-playbook against localhost (`-c local`) and a sandbox root.

The tools come from `make test`'s own install (the [dev] extras put ansible-core and ansible-lint in
the virtualenv beside this Python). A missing tool FAILS the tests: a skip would let the role ship
untested.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the virtualenv's bin/, not resolved: the venv's own entry points
ANSIBLE_DIR = REPO / "ansible"
ROLES = ANSIBLE_DIR / "roles"
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)",
    re.MULTILINE,
)


def tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: `make test` installs it (the [dev] extras of pyproject.toml)")
    return path


@dataclass
class Run:
    rc: int
    out: str

    def recap(self) -> dict[str, dict[str, int]]:
        return {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"}
                for m in RECAP.finditer(self.out)}  # fmt: skip


def ansible_env(home: Path) -> dict[str, str]:
    """A clean, predictable Ansible: plain default output, no colour, its state under the test's tmp."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_REMOTE_TEMP=str(home / "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_STDOUT_CALLBACK="default",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_ROLES_PATH=str(ROLES),
        NO_COLOR="1",
    )
    return env


def playbook_runner(tmp_path: Path) -> Callable[..., Run]:
    """Run a playbook with ansible-playbook; `inventory` is INI text, `extra` become extra vars."""
    home = tmp_path / "ansible-home"
    (home / "tmp").mkdir(parents=True)

    def run(
        play: Path,
        inventory: str,
        extra: dict[str, Any] | None = None,
        args: Sequence[str] = (),
    ) -> Run:
        inv = tmp_path / "inventory.ini"
        inv.write_text(inventory)
        vars_file = tmp_path / "extra-vars.json"
        vars_file.write_text(json.dumps(extra or {}))
        proc = subprocess.run(
            [str(tool("ansible-playbook")), "-i", str(inv), "-e", f"@{vars_file}", *args, str(play)],
            cwd=tmp_path,  # no stray ansible.cfg from the working directory
            env=ansible_env(home),
            capture_output=True,
            text=True,
            timeout=300,
        )
        return Run(proc.returncode, proc.stdout + proc.stderr)

    return run


def local_host(name: str, root: Path, **hostvars: str) -> str:
    """One inventory line: a host run on this machine with the virtualenv's Python, in its own root.

    Interpreter discovery is bypassed on purpose: on these machines it can pick a broken pyenv shim.
    """
    parts = [
        name,
        "ansible_connection=local",
        f"ansible_python_interpreter={sys.executable}",
        "ansible_become=false",  # site.yml asks for become; we already are whoever owns the sandbox
        f"kauditcfg_root={root}",
    ]
    parts += [f"{k}={v}" for k, v in hostvars.items()]
    return " ".join(parts)


def role_vars(**overrides: Any) -> dict[str, Any]:
    """The role's variables for a sandbox run: the CLI from this virtualenv, nothing installed, no wait."""
    return {
        "kauditcfg_install": False,
        "kauditcfg_executable": str(tool("kauditcfg")),
        "kauditcfg_wait": False,
        **overrides,
    }
