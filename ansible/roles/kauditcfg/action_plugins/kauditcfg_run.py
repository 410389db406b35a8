"""Run the kauditcfg CLI on the node and turn its `--json` result into an Ansible task result.

Why an action plugin and not a bare `ansible.builtin.command` task: Ansible shows a `--diff` only
for a task whose own result is `changed` and carries a `diff` list (the default callback's
`v2_on_file_diff`), and `command` can never return one; a second task to display it would count a
second change in the recap. So this one task runs the CLI (through `_low_level_execute_command`,
the path `ansible.builtin.raw` takes: become, the connection and the play's `environment` apply,
no module is shipped) and passes kauditcfg's result through unchanged: `changed`, `diff` (per
file before/after with headers, the shape of Ansible's own return values), `warnings`, and `msg`
from its `errors`.

Check mode: the mutating commands get `--dry-run`, so the CLI itself computes the would-be diff
and writes nothing; `check` never writes and runs as it is. A task with `check_mode: false`
(Ansible's "always run for real") gets no `--dry-run`.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from ansible.plugins.action import ActionBase

# The exit codes of kauditcfg, as its README documents them: said in the failure message so an
# operator knows at a glance whether the node was touched.
EXIT_MEANING = {
    2: "usage error; nothing written",
    3: "invalid input; nothing written",
    4: "preflight refused: the change would stop kube-apiserver; nothing written",
    5: "kube-apiserver did not become ready; the previous files were restored",
    6: "I/O failure; every step already done was undone",
    126: "the kauditcfg executable cannot be run",
    127: "the kauditcfg executable was not found (set kauditcfg_executable or kauditcfg_install)",
}
MUTATING = ("enable", "disable", "rollback")
PASSED_THROUGH = ("changed", "restart_required", "files", "diff", "backup", "findings", "cis", "errors")


class ActionModule(ActionBase):  # type: ignore[misc]  # ansible ships no type hints
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("argv",))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec={"argv": {"type": "list", "elements": "str", "required": True}}
        )
        argv: list[str] = list(args["argv"])
        if len(argv) < 2:
            return {**result, "failed": True, "msg": "argv must name the executable and a subcommand"}
        subcommand = argv[1]
        if "--json" not in argv:
            argv.append("--json")
        if subcommand in MUTATING and self._task.check_mode and "--dry-run" not in argv:
            argv.append("--dry-run")

        # the play's `environment:` (a proxy, KUBECONFIG) applies, as it does to ansible.builtin.command
        env = self._compute_environment_string()
        run = self._low_level_execute_command(f"{env} {shlex.join(argv)}".strip())
        rc, stdout, stderr = run["rc"], run.get("stdout", ""), run.get("stderr", "")
        result.update(cmd=argv, rc=rc, stdout=stdout, stderr=stderr, changed=False)

        try:
            reply = json.loads(stdout)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            # Not kauditcfg's answer (the executable is missing, a crash): report its last words;
            # the whole stderr stays in the result.
            lines = (stderr.strip() or stdout.strip() or "no output").splitlines()
            said = lines[-1]
            meaning = EXIT_MEANING.get(rc, "no JSON result on stdout")
            result.update(failed=True, msg=f"kauditcfg {subcommand} failed (exit {rc}: {meaning}): {said}")
            return result

        result.update({key: reply[key] for key in PASSED_THROUGH if key in reply})
        result["changed"] = bool(reply.get("changed")) and rc == 0
        if reply.get("warnings"):
            result["warnings"] = [str(w) for w in reply["warnings"]]
        if rc == 0 or (subcommand == "check" and rc == 1):
            # check's exit 1 is its verdict, not a failure to run: the role judges the findings.
            # (Said explicitly: Ansible takes a result with a non-zero `rc` and no `failed` as failed.)
            result["failed"] = False
            return result
        errors = "; ".join(str(e) for e in reply.get("errors") or []) or stderr.strip() or "no message"
        meaning = EXIT_MEANING.get(rc, "unexpected exit code")
        result.update(failed=True, msg=f"kauditcfg {subcommand} failed (exit {rc}: {meaning}): {errors}")
        return result
