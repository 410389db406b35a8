"""Judgements on the kube-apiserver pod and its host, written once; preflight and check consume them."""
