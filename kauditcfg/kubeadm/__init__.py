"""kubeadm: the audit settings as a ClusterConfiguration, a `--patches` file, and the kubeadm-config sync."""
