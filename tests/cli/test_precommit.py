"""The shipped pre-commit hooks, run by the real `pre-commit try-repo` against a throwaway Git repository.

pre-commit builds the hooks' virtualenv by pip-installing this repository (`language: python`), so the
first run takes a minute or two; the environment is shared by the tests of this module. pre-commit
comes from the [dev] extras (`make test`): without it these tests fail, they never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, REPO

PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
GOOD_POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n" \
              "- level: Metadata\n"  # fmt: skip
# Secret bodies at RequestResponse: lint's high finding.
BAD_POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n" \
             "- level: RequestResponse\n"  # fmt: skip
MANIFEST = "etc/kubernetes/manifests/kube-apiserver.yaml"


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert PRE_COMMIT.is_file(), "pre-commit is missing: install the [dev] extras (make test does)"
    return tmp_path_factory.mktemp("pre-commit-home")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                   check=True, capture_output=True)  # fmt: skip


def new_repo(path: Path, files: dict[str, str | Path]) -> Path:
    path.mkdir()
    git(path, "init", "-q")
    for name, content in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_text(content)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "node files")
    return path


def pre_commit(home: Path, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(PRE_COMMIT), *args], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=1200, check=False)  # fmt: skip


def try_repo(home: Path, repo: Path, hook: str, *files: str) -> subprocess.CompletedProcess[str]:
    selection = ["--files", *files] if files else ["--all-files"]
    return pre_commit(home, repo, "try-repo", str(REPO), hook, "--verbose", "--color", "never", *selection)


def test_policy_lint_hook_passes_the_good_file_and_fails_the_bad(pre_commit_home: Path, tmp_path: Path) -> None:  # noqa: E501
    repo = new_repo(tmp_path / "policies", {
        "audit/good-policy.yaml": GOOD_POLICY,
        "audit/bad-policy.yaml": BAD_POLICY,
        "README.md": "not a policy\n",
    })  # fmt: skip
    good = try_repo(pre_commit_home, repo, "kauditcfg-policy-lint", "audit/good-policy.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "kauditcfg policy lint" in good.stdout and "Passed" in good.stdout
    both = try_repo(pre_commit_home, repo, "kauditcfg-policy-lint")
    assert both.returncode == 1, both.stdout + both.stderr
    assert "Failed" in both.stdout and "secrets bodies are logged at RequestResponse" in both.stdout
    assert "README.md" not in both.stdout


def test_policy_lint_hook_file_pattern_is_configurable(pre_commit_home: Path, tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "rules", {"rules/one.yaml": BAD_POLICY, "bad-policy.yaml": BAD_POLICY})
    # The shipped entry with the user's own `files:` pattern; `language: system` runs the kauditcfg
    # installed next to the tests, so no second environment is built.
    config = tmp_path / "config.yaml"
    config.write_text(
        "repos:\n- repo: local\n  hooks:\n  - id: kauditcfg-policy-lint\n    name: kauditcfg policy lint\n"
        f"    entry: {hook_entry('kauditcfg-policy-lint')}\n    language: system\n"
        "    files: ^rules/.*\\.yaml$\n"
    )
    result = pre_commit(pre_commit_home, repo, "run", "--config", str(config), "--all-files", "--verbose")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rules/one.yaml" in result.stdout and "bad-policy.yaml" not in result.stdout.replace("rules/", "")


def hook_entry(hook_id: str) -> str:
    """A hook's `entry` exactly as .pre-commit-hooks.yaml ships it."""
    from ruamel.yaml import YAML

    hooks = YAML(typ="safe", pure=True).load((REPO / ".pre-commit-hooks.yaml").read_text())
    return str(next(h for h in hooks if h["id"] == hook_id)["entry"])


def test_diff_hook_fails_on_drift_only(pre_commit_home: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kauditcfg.cli import app

    node = tmp_path / "node"
    (node / MANIFEST).parent.mkdir(parents=True)
    shutil.copyfile(FIXTURES / "kubeadm-v1.30.4.yaml", node / MANIFEST)
    assert CliRunner().invoke(app, ["enable", "--root", str(node)]).exit_code == 0
    files: dict[str, str | Path] = {MANIFEST: node / MANIFEST}
    files["etc/kubernetes/audit/policy.yaml"] = node / "etc/kubernetes/audit/policy.yaml"
    repo = new_repo(tmp_path / "in-sync", files)
    clean = try_repo(pre_commit_home, repo, "kauditcfg-diff")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout

    drifted = new_repo(tmp_path / "drifted", {MANIFEST: FIXTURES / "kubeadm-v1.30.4.yaml"})
    result = try_repo(pre_commit_home, drifted, "kauditcfg-diff")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "+    - --audit-log-path=/var/log/kubernetes/audit/audit.log" in result.stdout
