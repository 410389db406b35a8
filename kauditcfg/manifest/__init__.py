"""Reading and editing the kube-apiserver static-pod manifest."""
