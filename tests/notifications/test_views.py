"""The Notifications section: loaded into the experiment and recurring-run pages by hx-get,
add and remove subscriptions, the delivery log."""

import pytest
from django.urls import reverse

from apps.experiments.models import Experiment
from apps.notifications.constants import Channel, Event
from apps.notifications.models import Delivery, Subscription
from tests.notifications.conftest import gate_run
from tests.recurring.fixtures import hello_version
from tests.recurring.test_recurring_views import make_rr

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def _url(kind: str, pk) -> str:
    return reverse("notifications:section", args=[kind, pk])


def test_the_experiment_page_loads_the_section(auth_client):
    experiment = Experiment.objects.create(name="loaded")
    page = auth_client.get(experiment.get_absolute_url()).content.decode()
    assert f'hx-get="{_url("experiment", experiment.pk)}"' in page
    assert f'href="{_url("experiment", experiment.pk)}"' in page


def test_the_recurring_page_loads_the_section(auth_client):
    rr = make_rr(hello_version(), Experiment.objects.create(name="nightly"))
    page = auth_client.get(rr.get_absolute_url()).content.decode()
    assert f'hx-get="{_url("recurring", rr.pk)}"' in page
    response = auth_client.get(_url("recurring", rr.pk), headers=HTMX)
    assert response.status_code == 200 and b"Nobody is notified yet" in response.content


def test_adding_a_webhook_shows_it_with_its_secret(auth_client):
    experiment = Experiment.objects.create(name="hooks")
    response = auth_client.post(
        _url("experiment", experiment.pk),
        {"channel": "webhook", "url": "https://hooks.example/ydp", "events": ["run_failed"]},
        headers=HTMX,
    )
    assert response.status_code == 200
    sub = Subscription.objects.get()
    assert (sub.experiment, sub.url, sub.email, sub.events) == (
        experiment,
        "https://hooks.example/ydp",
        "",
        ["run_failed"],
    )
    html = response.content.decode()
    assert "<!DOCTYPE" not in html  # the partial only
    assert sub.secret in html and "https://hooks.example/ydp" in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"channel": "webhook", "url": "http://hooks.example/ydp"}, "url", "must start with https"),
        ({"channel": "webhook", "url": "http://127.0.0.1:9/hook"}, "url", "must start with https"),
        ({"channel": "webhook", "url": ""}, "url", "Give the URL"),
        ({"channel": "email", "email": ""}, "email", "Give the address"),
        ({"channel": "email", "email": "a@example.org", "events": []}, "events", "required"),
    ],
)
def test_bad_input_is_refused_with_a_message(auth_client, data, field, message):
    experiment = Experiment.objects.create(name="strict")
    data = {"events": ["run_failed"], **data}
    response = auth_client.post(_url("experiment", experiment.pk), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    # htmx swaps only a 2xx answer: the section, its form showing the error.
    response = auth_client.post(_url("experiment", experiment.pk), data, headers=HTMX)
    assert response.status_code == 200 and "<!DOCTYPE" not in response.content.decode()
    assert message in response.content.decode()
    assert not Subscription.objects.exists()


def test_removing_a_subscription(auth_client):
    experiment = Experiment.objects.create(name="gone")
    sub = Subscription.objects.create(
        experiment=experiment, channel=Channel.EMAIL, email="a@example.org", events=["run_failed"]
    )
    other = Experiment.objects.create(name="other")
    # Removing through another target's URL finds nothing.
    wrong = reverse("notifications:remove", args=["experiment", other.pk, sub.pk])
    assert auth_client.post(wrong, headers=HTMX).status_code == 404
    url = reverse("notifications:remove", args=["experiment", experiment.pk, sub.pk])
    response = auth_client.post(url)
    assert response.status_code == 302
    assert not Subscription.objects.exists()


def test_unknown_targets_are_404(auth_client):
    assert auth_client.get(_url("experiment", "abc")).status_code == 404
    assert auth_client.get(_url("recurring", "not-a-uuid")).status_code == 404
    assert auth_client.get(_url("pipeline", 1)).status_code == 404


def test_the_delivery_log_in_a_fixed_number_of_queries(auth_client, django_assert_num_queries):
    run = gate_run("logged")
    for n in range(5):
        sub = Subscription.objects.create(
            experiment=run.experiment,
            channel=Channel.WEBHOOK,
            url=f"https://hooks.example/{n}",
            events=[Event.RUN_FAILED],
        )
        Delivery.objects.create(
            subscription=sub,
            run=run,
            event=Event.RUN_FAILED,
            status="retrying",
            attempts=2,
            last_status_code=503,
            last_error="HTTP 503 Service Unavailable",
        )
    url = _url("experiment", run.experiment.pk)
    # session, user, experiment, subscriptions, deliveries
    with django_assert_num_queries(6):
        response = auth_client.get(url, headers=HTMX)
    html = response.content.decode()
    assert html.count("HTTP 503 Service Unavailable") == 5 and "Retrying" in html
    assert run.name in html


def test_the_section_needs_a_login(client):
    experiment = Experiment.objects.create(name="private")
    response = client.get(_url("experiment", experiment.pk))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_section_is_a_page_of_its_own_without_htmx(auth_client):
    experiment = Experiment.objects.create(name="standalone")
    response = auth_client.get(_url("experiment", experiment.pk))
    html = response.content.decode()
    assert response.status_code == 200 and "<!DOCTYPE" in html.upper()
    assert 'id="notifications"' in html and experiment.get_absolute_url() in html


def test_the_admin_lists_both_models(admin_client):
    run = gate_run("admin")
    sub = Subscription.objects.create(
        experiment=run.experiment, channel=Channel.EMAIL, email="a@example.org", events=["x"]
    )
    delivery = Delivery.objects.create(subscription=sub, run=run, event=Event.RUN_FAILED)
    for name, obj in (("subscription", sub), ("delivery", delivery)):
        changelist = reverse(f"admin:notifications_{name}_changelist")
        assert admin_client.get(changelist).status_code == 200
        change = reverse(f"admin:notifications_{name}_change", args=[obj.pk])
        assert admin_client.get(change).status_code == 200


def test_the_admin_refuses_a_subscription_without_exactly_one_target(admin_client):
    experiment = Experiment.objects.create(name="admin target")
    rr = make_rr(hello_version(), experiment)
    data = {
        "channel": "email",
        "email": "a@example.org",
        "events": ["run_failed"],
        "enabled": "on",
    }
    add = reverse("admin:notifications_subscription_add")
    for targets in ({}, {"experiment": experiment.pk, "recurring_run": rr.pk}):
        response = admin_client.post(add, {**data, **targets})
        assert response.status_code == 200, targets  # the form again, with the error
        assert "Choose exactly one: an experiment or a recurring run." in response.content.decode()
    assert not Subscription.objects.exists()
    response = admin_client.post(add, {**data, "recurring_run": rr.pk})
    assert response.status_code == 302
    assert Subscription.objects.get().recurring_run == rr
