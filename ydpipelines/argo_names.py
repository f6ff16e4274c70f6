"""Argo's names for nodes and pods: one rule for the embedded engine and the app.

Django-free on purpose: the engine (ydpipelines.localargo) imports it as well as
apps.orchestration, so the pod a run page asks for is the pod the engine wrote.
"""

from __future__ import annotations

from functools import lru_cache

# Argo's workflow/util/pod_name.go: a pod name is a DNS subdomain (253 bytes); the prefix
# keeps room for "-" and the decimal FNV-1a hash (up to 10 digits).
MAX_POD_NAME = 253
HASH_LENGTH = 10
MAX_PREFIX = MAX_POD_NAME - HASH_LENGTH - 1


def fnv32a(text: str) -> int:
    """32-bit FNV-1a of the UTF-8 bytes, as Go's hash/fnv New32a."""
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


@lru_cache(maxsize=1 << 16)  # the engine asks for each task's id many times a pass
def node_id(workflow: str, node_name: str) -> str:
    """Argo's ``Workflow.NodeID``: the workflow name for the root, else name-fnv32a(node name)."""
    if node_name == workflow:
        return workflow
    return f"{workflow}-{fnv32a(node_name)}"


def pod_name(workflow: str, node_name: str, template: str) -> str:
    """Argo's v2 pod name (POD_NAMES=v2, the default since v3.4): ``<workflow>-<template>-
    <fnv32a(node name)>``; the root pod is the workflow; an inline template (no name) drops
    the template part; a prefix over 242 bytes is cut to 242 bytes (Go slices bytes, so a
    cut through a multi-byte character drops that character's partial bytes here)."""
    if node_name == workflow:
        return workflow
    prefix = f"{workflow}-{template}" if template else workflow
    raw = prefix.encode()
    if len(raw) > MAX_PREFIX:
        prefix = raw[:MAX_PREFIX].decode(errors="ignore")
    return f"{prefix}-{fnv32a(node_name)}"
