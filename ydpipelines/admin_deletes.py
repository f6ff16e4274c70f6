"""Deleting in the Django admin through the services the pages use.

A plain admin delete removes rows only: a recurring run's CronWorkflow would keep firing in
Argo, and bundle and artifact files would stay on disk. A ModelAdmin with `ServiceDeleteAdmin`
deletes each object (or the bulk selection) with its service; a refusal (Argo away, a run not
archived) keeps the row and shows the service's words.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect


class DeleteRefused(Exception):
    """A service refused to delete; the message says why (and what to do)."""


class ServiceDeleteAdmin(admin.ModelAdmin):
    def delete_one(self, obj: Any) -> None:
        """Delete `obj` with its service; raise DeleteRefused to keep it."""
        raise NotImplementedError

    def delete_many(self, objs: list[Any]) -> list[str]:
        """Delete each object; returns the refusals (one sentence each)."""
        refusals = []
        for obj in objs:
            try:
                self.delete_one(obj)
            except DeleteRefused as exc:
                refusals.append(f"“{obj}”: {exc}")
        return refusals

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        self.delete_one(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        objs = list(queryset)
        refusals = self.delete_many(objs)
        if refusals:
            done = len(objs) - len(refusals)
            raise DeleteRefused(f"Deleted {done} of {len(objs)}. Not deleted: {_join(refusals)}")

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DeleteRefused as exc:
            self.message_user(request, f"Not deleted: {exc}", messages.ERROR)
            return HttpResponseRedirect(request.path.rsplit("delete/", 1)[0] + "change/")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        try:
            return super().changelist_view(request, extra_context)
        except DeleteRefused as exc:  # the bulk "delete selected" action
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


def _join(items: Iterable[str]) -> str:
    return " ".join(items)
