"""Artifact garbage collection (Argo's ``artifactGC``): an output artifact whose strategy is
``OnWorkflowCompletion`` is deleted from the repository when its workflow completes, one with
``OnWorkflowDeletion`` when the workflow is deleted; ``Never`` (or none) keeps it. An artifact's
own ``artifactGC`` wins over the workflow's (or its WorkflowTemplate's) ``spec.artifactGC``.
A deleted artifact stays listed on its node with ``deleted: true``, as Argo marks it."""

from __future__ import annotations

from typing import Any

from .artifacts import Repository

STRATEGIES = ("", "Never", "OnWorkflowCompletion", "OnWorkflowDeletion")


def strategy_of(art: dict[str, Any], wf: dict[str, Any]) -> str:
    own = (art.get("artifactGC") or {}).get("strategy")
    if own:
        return own
    for spec in (wf.get("spec") or {}, (wf.get("status") or {}).get("storedWorkflowTemplateSpec")):
        strategy = ((spec or {}).get("artifactGC") or {}).get("strategy")
        if strategy:
            return strategy
    return ""


def collect(wf: dict[str, Any], when: str, repo: Repository) -> int:
    """Delete the workflow's output artifacts whose strategy is ``when``; how many."""
    deleted = 0
    for node in ((wf.get("status") or {}).get("nodes") or {}).values():
        for art in (node.get("outputs") or {}).get("artifacts") or []:
            key = (art.get("s3") or {}).get("key")
            if key and not art.get("deleted") and strategy_of(art, wf) == when:
                repo.delete(key)
                art["deleted"] = True
                deleted += 1
    return deleted
