"""What a fresh install sees: templates inside the wheel, no kubernetes import for local commands."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import FIXTURES, MANIFEST, REPO


def test_wheel_ships_templates_and_flag_data(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-build-isolation",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("kauditcfg-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "kauditcfg/templates/profiles/cks.yaml.j2" in names
    assert "kauditcfg/data/apiserver_audit_flags.json" in names
    assert not any(n.startswith(("tests/", "fixtures/")) for n in names)


def test_diff_and_help_do_not_import_the_kubernetes_client(tmp_path: Path) -> None:
    root = tmp_path / "node"
    manifest = root / MANIFEST.lstrip("/")
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes((FIXTURES / "kubeadm-v1.30.4.yaml").read_bytes())
    probe = (
        "import sys\n"
        "from kauditcfg.cli import app\n"
        "for argv in (['--help'], ['diff', '--root', sys.argv[1]]):\n"
        "    try:\n"
        "        app(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'kubernetes' not in sys.modules, 'kubernetes was imported'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(root)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("ok")


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "kauditcfg", "--version"], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.startswith("kauditcfg ")


def test_json_answers_even_a_bad_option_with_one_object() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kauditcfg", "enable", "--json", "--no-such-option"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    result = json.loads(out.stdout)
    assert result["changed"] is False
    assert result["errors"] == ["usage: No such option: --no-such-option (see kauditcfg --help)"]
