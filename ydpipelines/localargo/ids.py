"""Argo's names for nodes and pods, so a client written for Argo finds what it expects."""

from __future__ import annotations

import hashlib
import re


def fnv32a(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode():
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def node_id(workflow: str, node_name: str) -> str:
    """Argo's ``Workflow.NodeID``: the workflow name for the root, else name-fnv32a(node name)."""
    if node_name == workflow:
        return workflow
    return f"{workflow}-{fnv32a(node_name)}"


def pod_name(workflow: str, node_name: str, template: str) -> str:
    """Argo v3.4+ pod names (POD_NAMES=v2): <workflow>-<template>-<fnv32a(node name)>."""
    if node_name == workflow:
        return workflow
    prefix = f"{workflow}-{template}" if template else workflow
    if len(prefix) > 63 - 11:  # Argo shortens long prefixes so the name stays a DNS label
        prefix = prefix[: 63 - 11]
    return f"{prefix}-{fnv32a(node_name)}"


_DNS = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def valid_name(name: str) -> bool:
    return bool(_DNS.match(name)) and len(name) <= 253


def random_suffix(seed: str) -> str:
    """Five lowercase characters like Kubernetes' generateName suffix."""
    digest = hashlib.sha1(seed.encode()).digest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:5])
