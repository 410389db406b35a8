"""The one home of kauditcfg's constants: default host paths, CIS rotation minimums, level order."""

from __future__ import annotations

from dataclasses import dataclass

# kubeadm's staticPodPath (kubelet --pod-manifest-path / KubeletConfiguration.staticPodPath).
DEFAULT_MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
POLICY_PATH = "/etc/kubernetes/audit/policy.yaml"
LOG_PATH = "/var/log/kubernetes/audit/audit.log"
WEBHOOK_CONFIG_PATH = "/etc/kubernetes/audit/webhook-kubeconfig.yaml"
# Outside staticPodPath on purpose: the kubelet runs every non-dot file there as a pod.
STATE_DIR = "/var/lib/kauditcfg"
BACKUP_DIR = STATE_DIR + "/backups"
STATE_FILE = STATE_DIR + "/state.json"
# Backups kept after each change (`--keep-backups`): a nightly Ansible run never fills the disk,
# and a bad change can still be undone days later.
KEEP_BACKUPS = 10
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"

HASH_ANNOTATION = "kauditcfg.io/config-hash"
POLICY_VOLUME = "audit-policy"
LOG_VOLUME = "audit-log"
WEBHOOK_VOLUME = "audit-webhook"  # directories of the webhook's CA, client certificate/key, token

# Audit levels in increasing order (k8s.io/apiserver/pkg/apis/audit: Level.Less).
LEVELS: tuple[str, ...] = ("None", "Metadata", "Request", "RequestResponse")


@dataclass(frozen=True)
class RotationMinimum:
    """A CIS Kubernetes Benchmark rotation check: the flag, its minimum, the control id."""

    flag: str
    minimum: int
    cis: str


CIS_ROTATION: tuple[RotationMinimum, ...] = (
    RotationMinimum("audit-log-maxage", 30, "1.2.17"),
    RotationMinimum("audit-log-maxbackup", 10, "1.2.18"),
    RotationMinimum("audit-log-maxsize", 100, "1.2.19"),
)


def cis_rotation_flags() -> dict[str, str]:
    """The CIS minimums as flag values: what every shipped profile writes unless told otherwise."""
    return {r.flag: str(r.minimum) for r in CIS_ROTATION}


# Volumes of an adopted (hand-made or kubespray) setup that kauditcfg reuses: `disable` keeps them,
# since they were the user's before kauditcfg came.
ADOPTED_ANNOTATION = "kauditcfg.io/adopted-volumes"
