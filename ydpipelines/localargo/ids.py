"""Argo's names for nodes and pods, so a client written for Argo finds what it expects."""

from __future__ import annotations

import hashlib
import re

from ydpipelines.argo_names import fnv32a, node_id, pod_name

__all__ = ["fnv32a", "node_id", "pod_name", "random_suffix", "valid_name"]


_DNS = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def valid_name(name: str) -> bool:
    return bool(_DNS.match(name)) and len(name) <= 253


def random_suffix(seed: str) -> str:
    """Five lowercase characters like Kubernetes' generateName suffix."""
    digest = hashlib.sha1(seed.encode()).digest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:5])
