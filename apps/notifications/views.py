"""The Notifications section of an experiment's and a recurring run's page: subscriptions
(add, remove) and the latest deliveries. The pages load it by hx-get, so their views stay as
they are; its URL is also a page of its own (the link's href)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from apps.experiments.models import Experiment
from apps.notifications.forms import SubscriptionForm
from apps.notifications.models import Delivery, Subscription
from apps.projects import scope
from apps.projects.constants import Role
from apps.recurring.models import RecurringRun
from ydpipelines.htmx import HtmxHttpRequest

# kind: (model, the subscription's field, the path from the model to its project)
TARGETS: dict[str, tuple[type[Model], str, str]] = {
    "experiment": (Experiment, "experiment", "project"),
    "recurring": (RecurringRun, "recurring_run", "experiment__project"),
}
RECENT_DELIVERIES = 20


def _target(request: HttpRequest, kind: str, pk: str) -> tuple[Model, str]:
    """The experiment (integer id) or recurring run (UUID) named in the URL, among the
    caller's projects, else 404; a change (POST) needs the editor role in its project."""
    if kind not in TARGETS:
        raise Http404("No such kind of target.")
    model, field, path = TARGETS[kind]
    try:
        key = model._meta.pk.to_python(pk)
    except ValidationError as exc:
        raise Http404("No such target.") from exc
    role = Role.EDITOR if request.method == "POST" else None
    return scope.get_visible(request, model.objects.all(), path, role=role, pk=key), field


def _render(
    request: HtmxHttpRequest, kind: str, target: Model, field: str, form: SubscriptionForm
) -> HttpResponse:
    subscriptions = Subscription.objects.filter(**{field: target})
    deliveries = (
        Delivery.objects.filter(**{f"subscription__{field}": target})
        .select_related("subscription", "run")
        .only(*_DELIVERY_COLUMNS)[:RECENT_DELIVERIES]
    )
    template = "notifications/notifications.html"
    if request.htmx and not request.htmx.boosted:
        template += "#section"
    context = {
        "kind": kind,
        "target": target,
        "subscriptions": subscriptions,
        "deliveries": deliveries,
        "form": form,
    }
    # htmx swaps only 2xx answers: there the section with the form's errors comes back as 200.
    refused = bool(form.errors) and not request.htmx
    return render(request, template, context, status=400 if refused else 200)


_DELIVERY_COLUMNS = (
    "id",
    "event",
    "status",
    "attempts",
    "last_status_code",
    "last_error",
    "next_attempt_at",
    "delivered_at",
    "created_at",
    "detail",
    "subscription__id",
    "subscription__channel",
    "subscription__email",
    "subscription__url",
    "run__id",
    "run__name",
)


@require_http_methods(["GET", "POST"])
def section(request: HtmxHttpRequest, kind: str, pk: str) -> HttpResponse:
    """GET: the section. POST: add a subscription, then the section again."""
    target, field = _target(request, kind, pk)
    form = SubscriptionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        setattr(form.instance, field, target)
        form.save()
        if not request.htmx:
            return HttpResponseRedirect(request.path)
        form = SubscriptionForm()
    return _render(request, kind, target, field, form)


@require_POST
def remove(request: HtmxHttpRequest, kind: str, pk: str, sub_pk: int) -> HttpResponse:
    target, field = _target(request, kind, pk)
    get_object_or_404(Subscription, pk=sub_pk, **{field: target}).delete()
    if not request.htmx:
        return HttpResponseRedirect(reverse("notifications:section", args=[kind, pk]))
    return _render(request, kind, target, field, SubscriptionForm())
