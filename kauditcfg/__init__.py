"""kauditcfg: turn Kubernetes API-server audit logging on, correctly and safely."""

__version__ = "0.1.0"
