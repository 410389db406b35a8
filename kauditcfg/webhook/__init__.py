"""kube-apiserver's audit webhook backend: the collector URL, the kubeconfig, batching, TLS checks.

- url.py: only https with a host (plain http would carry audit data in clear text).
- tuning.py: mode, batch and truncate flags of the log and webhook backends, validated.
- backend.py: options -> the kubeconfig (from a template) and flags, as one `WebhookBackend`.
- tls.py: CA, client certificate/key and token judged with `cryptography`, as kube-apiserver reads them.
- material.py: which of those files a kubeconfig names, for preflight and `check` alike.

Nothing is imported here: `cryptography` loads only when TLS material is judged.
"""
