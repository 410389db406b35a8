"""The live cluster: the kubeadm-config sync, waiting for kube-apiserver, verify."""
