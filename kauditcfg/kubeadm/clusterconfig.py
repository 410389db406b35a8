"""ClusterConfiguration's `apiServer.extraArgs` and `extraVolumes`, in both API shapes.

kubeadm.k8s.io/v1beta3 holds extraArgs as a map of strings; v1beta4 (kubeadm 1.31+, kubernetes
PR #125029) as a list of `{name, value}` that may repeat a name. extraVolumes is a list of
HostPathMount (`name`, `hostPath`, `mountPath`, `readOnly`, `pathType`) in both
(cmd/kubeadm/app/apis/kubeadm/v1beta3/types.go and v1beta4/types.go).
"""

from __future__ import annotations

from typing import Any

from kauditcfg import __version__
from kauditcfg.config.audit import AuditConfig, MountSpec
from kauditcfg.errors import InvalidInput, UsageError
from kauditcfg.versions import Version
from kauditcfg.yamltext import Style, render_mapping_lines

GROUP = "kubeadm.k8s.io"
V1BETA3 = "v1beta3"
V1BETA4 = "v1beta4"
API_VERSIONS = (V1BETA3, V1BETA4)
KIND = "ClusterConfiguration"

Json = dict[str, Any]


def api_version_for(kubernetes: Version | None) -> str:
    """v1beta4 from kubeadm 1.31 on (v1beta3 is deprecated there and removed in 1.36)."""
    return V1BETA3 if kubernetes is not None and kubernetes < (1, 31) else V1BETA4


def short_api(api_version: Any, source: str) -> str:
    """`kubeadm.k8s.io/v1beta4` -> `v1beta4`; refuse the versions kubeadm no longer reads."""
    text = str(api_version or "")
    group, _, version = text.partition("/")
    if group != GROUP or version not in API_VERSIONS:
        raise InvalidInput(
            f"{source}: {KIND} apiVersion {text or '(missing)'} is not supported; kauditcfg writes "
            f"{GROUP}/v1beta3 or v1beta4: convert it with `kubeadm config migrate`"
        )
    return version


def extra_args_of(api_server: Any, api: str, source: str) -> dict[str, str]:
    """The extraArgs as kube-apiserver will see them (a repeated v1beta4 name: the last one wins)."""
    args = api_server.get("extraArgs") if isinstance(api_server, dict) else None
    if args is None:
        return {}
    if api == V1BETA3:
        if not isinstance(args, dict):
            raise InvalidInput(
                f"{source}: apiServer.extraArgs must be a map of flag: value in {GROUP}/v1beta3"
            )
        return {str(k): str(v) for k, v in args.items()}
    if not isinstance(args, list) or not all(isinstance(a, dict) and "name" in a for a in args):
        raise InvalidInput(
            f"{source}: apiServer.extraArgs must be a list of {{name, value}} in {GROUP}/v1beta4"
        )
    return {str(a["name"]): str(a.get("value", "")) for a in args}


def extra_volumes_of(api_server: Any, source: str) -> list[Json]:
    vols = api_server.get("extraVolumes") if isinstance(api_server, dict) else None
    if vols is None:
        return []
    if not isinstance(vols, list) or not all(isinstance(v, dict) for v in vols):
        raise InvalidInput(f"{source}: apiServer.extraVolumes must be a list of host path mounts")
    return vols


def extra_args_value(flags: dict[str, str], api: str) -> Any:
    """Sorted by name, as kubeadm sorts the command line it builds from them."""
    names = sorted(flags)
    if api == V1BETA3:
        return {name: flags[name] for name in names}
    return [{"name": name, "value": flags[name]} for name in names]


def volume_value(spec: MountSpec, name: str | None = None) -> Json:
    """A HostPathMount mounting `spec.path` at the same path. readOnly is written even when false:
    kubeadm's default is writable, and saying so keeps the log mount's intent visible."""
    return {
        "name": name or spec.name,
        "hostPath": spec.path,
        "mountPath": spec.path,
        "readOnly": spec.read_only,
        "pathType": spec.type,
    }


def check_api(api: str) -> str:
    if api not in API_VERSIONS:
        raise UsageError(f"--api-version {api!r}: choose v1beta3 or v1beta4")
    return api


def render_cluster_configuration(config: AuditConfig, api: str) -> str:
    """A ClusterConfiguration document holding only the audit settings."""
    doc: Json = {
        "apiVersion": f"{GROUP}/{check_api(api)}",
        "kind": KIND,
        "apiServer": {
            "extraArgs": extra_args_value(config.flags, api),
            "extraVolumes": [volume_value(m) for m in config.mounts],
        },
    }
    header = [
        f"# kube-apiserver audit logging, written by kauditcfg {__version__} (kauditcfg kubeadm config).",
        "# Merge apiServer into your ClusterConfiguration (or run: kauditcfg kubeadm config --in FILE).",
        "# The policy file must exist on every control-plane node: kauditcfg enable writes it.",
    ]
    return "\n".join(header + render_mapping_lines(doc, 0, Style())) + "\n"
