"""The runs list page: columns, metric columns, filters with counts, predicates, sort, keyset
pages, HTMX partial, tabs, and a fixed number of queries whatever the page size."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.runs.constants import RunState
from apps.runs.models import Metric, Run
from tests.experiments.builders import make_experiment, make_run, make_version

pytestmark = pytest.mark.django_db
LIST = reverse("runs:list")


def page_names(response) -> list[str]:
    return [run.name for run in response.context["listing"].runs]


def add_metrics(run: Run, **values: float) -> None:
    for name, value in values.items():
        Metric.objects.create(run=run, name=name, value=value)


def test_needs_login(client):
    assert client.get(LIST).status_code == 302


def test_empty_list_says_what_to_do(auth_client):
    body = auth_client.get(LIST).content.decode()
    assert "No runs yet" in body and reverse("runs:create") in body


def test_columns(auth_client):
    version = make_version("churn", "v3")
    run = make_run(
        version,
        make_experiment("exp"),
        name="nightly <b>",
        started_at=timezone.now() - timedelta(seconds=75),
        finished_at=timezone.now(),
        state=RunState.SUCCEEDED,
    )
    body = auth_client.get(LIST).content.decode()
    for text in ("nightly &lt;b&gt;", "Succeeded", "exp", "churn", "v3", "1m 15s"):
        assert text in body
    assert f'href="{run.get_absolute_url()}"' in body
    assert f'href="{reverse("experiments:detail", args=[run.experiment_id])}"' in body
    assert f'href="{reverse("pipelines:version", args=[version.pipeline_id, version.pk])}"' in body
    assert "<b>" not in body.split("<tbody>")[1]


def test_metric_columns_and_picker(auth_client):
    run = make_run(make_version(), make_experiment(), name="r1")
    add_metrics(run, accuracy=0.9512, f1=0.5, loss=0.25)
    response = auth_client.get(LIST + "?metrics=accuracy,f1,nosuch")
    listing = response.context["listing"]
    assert listing.metric_columns == ["accuracy", "f1"]
    body = response.content.decode()
    assert "0.9512" in body and "0.5" in body and "0.25" not in body.split("<tbody>")[1]
    # The picker lists every metric name, the shown ones on, each a link toggling it.
    picker = {name: (shown, url) for name, shown, url in listing.column_urls}
    assert set(picker) == {"accuracy", "f1", "loss"}
    assert picker["loss"][0] is False and "metrics=accuracy%2Cf1%2Closs" in picker["loss"][1]
    assert picker["f1"][0] is True and "metrics=accuracy&" not in picker["f1"][1]


def test_state_counts_ignore_the_state_filter(auth_client):
    version, experiment = make_version(), make_experiment()
    for state, n in ((RunState.SUCCEEDED, 3), (RunState.FAILED, 2), (RunState.RUNNING, 1)):
        for _ in range(n):
            make_run(version, experiment, state=state)
    response = auth_client.get(LIST + "?state=Failed")
    listing = response.context["listing"]
    counts = {state: (n, checked) for state, n, checked in listing.state_counts}
    assert counts["Succeeded"] == (3, False) and counts["Failed"] == (2, True)
    assert counts["Running"] == (1, False) and counts["Pending"] == (0, False)
    assert listing.total == 2 and len(listing.runs) == 2


def test_predicates_in_the_url(auth_client):
    version, experiment = make_version(), make_experiment()
    for name, accuracy, loss in (("a", 0.95, 0.1), ("b", 0.92, 0.5), ("c", 0.4, 0.1)):
        add_metrics(make_run(version, experiment, name=name), accuracy=accuracy, loss=loss)
    response = auth_client.get(LIST + "?m=accuracy:gt:0.9&m=loss:lte:0.2")
    assert page_names(response) == ["a"]
    body = response.content.decode()
    assert "accuracy &gt; 0.9" in body and "loss ≤ 0.2" in body
    # Each chip links to the list without it.
    chips = dict((p.token, url) for p, url in response.context["listing"].predicates)
    assert parse_qs(urlsplit(chips["loss:lte:0.2"]).query)["m"] == ["accuracy:gt:0.9"]


def test_malformed_predicate_shows_a_message(auth_client):
    make_run(make_version(), make_experiment(), name="kept")
    response = auth_client.get(LIST + "?m=accuracy:bigger:0.9")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Some filters were not applied" in body
    assert "unknown operator “bigger”" in body
    assert page_names(response) == ["kept"]


def test_add_row_redirects_to_the_canonical_url(auth_client):
    response = auth_client.get(LIST + "?m_name=accuracy&m_op=gte&m_value=0.8&sort=-m:accuracy")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query == {"m": ["accuracy:gte:0.8"], "sort": ["-m:accuracy"]}


def test_htmx_gets_the_table_with_counts_out_of_band(auth_client):
    version, experiment = make_version(), make_experiment()
    make_run(version, experiment, name="good", state=RunState.SUCCEEDED)
    make_run(version, experiment, name="bad", state=RunState.FAILED)
    response = auth_client.get(
        LIST + "?state=Failed&m_name=x&m_value=", headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="run-table"')
    assert '<fieldset id="state-counts" class="rl-states" hx-swap-oob="true">' in body
    assert 'id="list-hidden" hx-swap-oob="true"' in body
    assert "bad" in body and ">good<" not in body
    assert response["HX-Push-Url"] == LIST + "?state=Failed"


def test_sort_by_metric_puts_runs_without_it_last(auth_client):
    version, experiment = make_version(), make_experiment()
    for name, accuracy in (("mid", 0.5), ("top", 0.9), ("low", 0.1)):
        add_metrics(make_run(version, experiment, name=name), accuracy=accuracy)
    make_run(version, experiment, name="none")
    desc = auth_client.get(LIST + "?sort=-m:accuracy")
    assert page_names(desc) == ["top", "mid", "low", "none"]
    asc = auth_client.get(LIST + "?sort=m:accuracy")
    assert page_names(asc) == ["low", "mid", "top", "none"]
    header = desc.context["listing"].columns
    assert [c.key for c in header][:6] == [
        "name",
        "state",
        "experiment",
        "pipeline",
        "created",
        "duration",
    ]


def test_sort_by_columns(auth_client):
    version, experiment = make_version(), make_experiment()
    now = timezone.now()
    for name, seconds in (("b", 30), ("c", None), ("a", 90)):
        make_run(
            version,
            experiment,
            name=name,
            started_at=now - timedelta(seconds=100),
            finished_at=None if seconds is None else now - timedelta(seconds=100 - seconds),
        )
    assert page_names(auth_client.get(LIST + "?sort=name")) == ["a", "b", "c"]
    assert page_names(auth_client.get(LIST + "?sort=-name")) == ["c", "b", "a"]
    assert page_names(auth_client.get(LIST + "?sort=-duration")) == ["a", "b", "c"]
    assert page_names(auth_client.get(LIST + "?sort=duration")) == ["b", "a", "c"]
    response = auth_client.get(LIST + "?sort=bogus")
    assert "“bogus” is not a column" in response.content.decode()


def _walk(client, url: str) -> tuple[list[str], list[str]]:
    """Follow Next to the end, then Previous back to the start."""
    forward: list[str] = []
    pages = []
    response = client.get(url)
    while True:
        pages.append(page_names(response))
        forward.extend(page_names(response))
        next_url = response.context["listing"].next_url
        if not next_url:
            break
        response = client.get(next_url)
    backward: list[str] = []
    while True:
        backward = page_names(response) + backward
        previous_url = response.context["listing"].previous_url
        if not previous_url:
            break
        response = client.get(previous_url)
    return forward, backward


@pytest.mark.parametrize(
    "sort", ["-created", "name", "-m:accuracy", "m:accuracy", "duration", "-state"]
)
def test_keyset_pages_walk_every_run_once_both_ways(auth_client, sort):
    version, experiment = make_version(), make_experiment()
    now = timezone.now()
    for i in range(23):
        run = make_run(
            version,
            experiment,
            name=f"r{i:02d}",
            state=RunState.SUCCEEDED if i % 3 else RunState.FAILED,
            started_at=now - timedelta(seconds=50),
            finished_at=now - timedelta(seconds=i % 4) if i % 5 else None,
        )
        if i % 6:  # ties in the metric, and runs without it
            add_metrics(run, accuracy=round((i % 4) / 10, 1))
    expected = page_names(auth_client.get(LIST + f"?sort={sort}&size=100"))
    assert len(expected) == 23
    forward, backward = _walk(auth_client, LIST + f"?sort={sort}&size=10")
    assert forward == expected and backward == expected


def test_page_sizes_and_bad_cursor(auth_client):
    version, experiment = make_version(), make_experiment()
    for _ in range(12):
        make_run(version, experiment)
    assert len(page_names(auth_client.get(LIST + "?size=10"))) == 10
    assert len(page_names(auth_client.get(LIST + "?size=7"))) == 12  # not offered: 20
    assert len(page_names(auth_client.get(LIST + "?after=garbage"))) == 12


def test_url_keeps_filters_sort_and_columns(auth_client):
    version, experiment = make_version(), make_experiment()
    for i in range(12):
        add_metrics(make_run(version, experiment, name=f"r{i}"), accuracy=i / 20)
    url = LIST + "?state=Running&m=accuracy:gte:0&sort=-m:accuracy&size=10&metrics=accuracy"
    listing = auth_client.get(url).context["listing"]
    query = parse_qs(urlsplit(listing.next_url).query)
    assert query["state"] == ["Running"] and query["m"] == ["accuracy:gte:0"]
    assert query["sort"] == ["-m:accuracy"] and query["size"] == ["10"]
    assert query["metrics"] == ["accuracy"] and "after" in query
    sort_link = next(c.sort_url for c in listing.columns if c.key == "name")
    assert "after" not in sort_link and "state=Running" in sort_link


def test_archived_tab(auth_client):
    version, experiment = make_version(), make_experiment()
    make_run(version, experiment, name="kept")
    make_run(version, experiment, name="old", archived_at=timezone.now())
    assert page_names(auth_client.get(LIST)) == ["kept"]
    response = auth_client.get(LIST + "?tab=archived")
    assert page_names(response) == ["old"]
    assert response.context["listing"].next_url is None


def test_selection_actions(auth_client):
    make_run(make_version(), make_experiment(), name="r")
    body = auth_client.get(LIST).content.decode()
    assert "data-clone" in body and f'data-base="{reverse("runs:create")}"' in body


def test_experiment_page_still_renders_its_runs(auth_client):
    experiment = make_experiment("exp-page")
    make_run(make_version(), experiment, name="inside")
    response = auth_client.get(reverse("experiments:detail", args=[experiment.pk]))
    assert response.status_code == 200 and "inside" in response.content.decode()


def _populate(n: int) -> None:
    versions = [make_version("p", f"v{i}") for i in range(3)]
    experiments = [make_experiment(f"e{i}") for i in range(3)]
    states = [RunState.SUCCEEDED, RunState.FAILED, RunState.RUNNING]
    for i in range(n):
        run = make_run(versions[i % 3], experiments[i % 3], state=states[i % 3])
        add_metrics(run, accuracy=0.5 + i / (2 * n), loss=1 - i / n)


@pytest.mark.parametrize("n", [10, 100])
def test_fixed_query_count(auth_client, django_assert_num_queries, n):
    _populate(n)
    url = (
        LIST + "?state=Succeeded&state=Failed&m=accuracy:gt:0.5&m=loss:lte:0.99"
        "&sort=-m:accuracy&size=100&metrics=accuracy,loss"
    )
    # session, user, the filters' choices with the metric names, the state counts, the page,
    # the page's metric values, the caller's projects and roles
    with django_assert_num_queries(7):
        response = auth_client.get(url)
    assert len(page_names(response)) == len([i for i in range(n) if i % 3 != 2 and i > 0])
    with django_assert_num_queries(7):
        auth_client.get(LIST + "?size=100&metrics=accuracy")
    with django_assert_num_queries(7):
        next_url = response.context["listing"].next_url or (LIST + "?size=10&metrics=loss")
        auth_client.get(next_url)


def test_run_rows_escape_and_link(auth_client):
    experiment = make_experiment('e"x')
    make_run(make_version(), experiment, name='a"b')
    body = auth_client.get(LIST).content.decode()
    assert re.search(r'aria-label="Select a&quot;b"', body)
    assert "e&quot;x" in body


def test_run_listing_inside_an_experiment(rf, user):
    from apps.runs.list_views import run_listing
    from apps.runs.queries import run_list_queryset

    version = make_version()
    inside, outside = make_experiment("inside"), make_experiment("outside")
    for name, experiment, accuracy in (
        ("a", inside, 0.95),
        ("b", inside, 0.5),
        ("c", outside, 0.99),
    ):
        add_metrics(make_run(version, experiment, name=name), accuracy=accuracy)
    request = rf.get("/x/?m=accuracy:gt:0.9&sort=-m:accuracy&metrics=accuracy")
    request.user = user
    runs = run_list_queryset().filter(experiment=inside, archived_at__isnull=True)
    listing, filterset, canonical = run_listing(
        request, runs, base_url="/x/", archived=False, experiment=inside
    )
    assert [r.name for r in listing.runs] == ["a"] and listing.total == 1
    assert "experiment" not in [c.key for c in listing.columns]
    assert "experiment" not in filterset.filters
    assert canonical.startswith("/x/?m=accuracy")
    # Unknown archived state (an archived experiment's page): no bulk action, same rows.
    listing, _, _ = run_listing(request, runs, base_url="/x/", archived=None, experiment=inside)
    assert [r.name for r in listing.runs] == ["a"] and listing.bulk_url is None


def test_htmx_next_page_pushes_its_cursor(auth_client):
    version, experiment = make_version(), make_experiment()
    for _ in range(12):
        make_run(version, experiment)
    first = auth_client.get(LIST + "?size=10")
    next_url = first.context["listing"].next_url
    response = auth_client.get(next_url, headers={"HX-Request": "true"})
    assert response["HX-Push-Url"] == next_url and "after=" in next_url


def test_bulk_archive_form_archives_the_selected_runs(auth_client):
    version, experiment = make_version(), make_experiment()
    runs = [make_run(version, experiment, state=RunState.SUCCEEDED) for _ in range(3)]
    body = auth_client.get(LIST).content.decode()
    action = reverse("runs:archive_many")
    assert f'action="{action}"' in body and 'name="runs"' in body and 'name="next"' in body
    picked = ",".join(str(run.pk) for run in runs[:2])
    response = auth_client.post(action, {"runs": picked, "next": LIST + "?size=10"})
    assert response.status_code == 302 and response["Location"] == LIST + "?size=10"
    assert Run.objects.filter(archived_at__isnull=False).count() == 2
    archived = auth_client.get(LIST + "?tab=archived").content.decode()
    assert f'action="{reverse("runs:restore_many")}"' in archived


def test_created_column_is_short(auth_client):
    version, experiment = make_version(), make_experiment()
    make_run(version, experiment, name="fresh")
    Run.objects.filter(name="fresh").update(created_at=timezone.now() - timedelta(minutes=5))
    old = make_run(version, experiment, name="old")
    Run.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    rows = auth_client.get(LIST).content.decode().split("<tbody>")[1]
    assert ">5 min ago</time>" in rows
    assert re.search(r">[A-Z][a-z]{2} \d{1,2}, \d{4}</time>", rows)  # a date with its year


def test_short_time_filter():
    from apps.runs.templatetags.short_time import ago

    now = timezone.now()
    assert ago(now - timedelta(seconds=40), now) == "40s ago"
    assert ago(now - timedelta(minutes=5, seconds=3), now) == "5 min ago"
    assert ago(now - timedelta(hours=3), now) == "3 h ago"
    assert ago(now - timedelta(days=2), now) == "2 d ago"
    assert ago(now + timedelta(seconds=2), now) == "just now"
    assert ago(None) == ""
    june = datetime(2025, 6, 15, 12, tzinfo=UTC)
    assert ago(datetime(2025, 6, 1, 12, tzinfo=UTC), june) == "Jun 1"
    assert ago(datetime(2024, 6, 1, 12, tzinfo=UTC), june) == "Jun 1, 2024"


def test_more_filters_fold_opens_when_one_of_its_filters_is_set(auth_client):
    experiment = make_experiment("exp")
    make_run(make_version(), experiment)
    closed = auth_client.get(LIST + "?state=Failed&q=x")
    assert closed.context["listing"].folded_filters == 0
    assert '<details class="rl-more">' in closed.content.decode()
    opened = auth_client.get(LIST + f"?experiment={experiment.pk}&created_after=2024-01-01")
    assert opened.context["listing"].folded_filters == 2
    body = opened.content.decode()
    assert '<details class="rl-more" open>' in body
    assert '<span class="count-pill">2</span>' in body


@pytest.mark.e2e
@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1440, 900)])
def test_the_list_fits_a_laptop(page, live_server, django_user_model, width, height):
    """At 1280x720 and 1440x900 every column shows without scrolling; with six metric columns
    the table scrolls inside its own box, never the page."""
    django_user_model.objects.create_user("lee", password="pw-lee-123")
    version = make_version("customer churn prediction", "v12")
    experiment = make_experiment("churn tuning sweep, second round")
    for i in range(12):
        run = make_run(
            version,
            experiment,
            name=f"churn-xgb-depth{i % 7 + 2}-lr0.05-{i:03}",
            state=RunState.SUCCEEDED,
            started_at=timezone.now() - timedelta(hours=2),
            finished_at=timezone.now() - timedelta(hours=1),
        )
        add_metrics(run, accuracy=0.9, f1=0.8, precision=0.7, recall=0.6, roc_auc=0.5, loss=0.4)
    page.set_viewport_size({"width": width, "height": height})
    page.goto(live_server.url + LIST)
    page.fill("#id_username", "lee")
    page.fill("#id_password", "pw-lee-123")
    page.click("button[type=submit]")
    page.wait_for_selector(".rl-table")
    measure = """() => {
      const wrap = document.querySelector('#run-table .table-wrap');
      const cell = document.querySelector('.rl-table tbody tr td:last-child');
      const last = cell.getBoundingClientRect();
      return {page: document.documentElement.scrollWidth, table: wrap.scrollWidth,
              box: wrap.clientWidth, wide: wrap.classList.contains('is-wide'),
              lastRight: last.right, boxRight: wrap.getBoundingClientRect().right,
              nameHeight: document.querySelector('.rl-table td.rl-name a').offsetHeight};
    }"""
    for url in (LIST, experiment.get_absolute_url()):
        page.goto(live_server.url + url)
        fit = page.evaluate(measure)
        assert fit["page"] == width and fit["table"] <= fit["box"], (url, fit)
        assert fit["lastRight"] <= fit["boxRight"] + 1 and not fit["wide"], (url, fit)
        assert fit["nameHeight"] < 30, fit  # one line
    page.goto(live_server.url + LIST + "?metrics=accuracy,f1,precision,recall,roc_auc,loss")
    page.wait_for_selector(".table-wrap.is-wide")
    fit = page.evaluate(measure)
    assert fit["page"] == width and fit["table"] > fit["box"], fit
    assert page.js_errors == []


def test_archived_tab_offers_delete_through_the_confirmation_page(auth_client):
    version, experiment = make_version(), make_experiment()
    kept = make_run(version, experiment, state=RunState.SUCCEEDED, name="kept")
    old = [
        make_run(
            version,
            experiment,
            state=RunState.SUCCEEDED,
            name=f"old{i}",
            archived_at=timezone.now(),
        )
        for i in range(3)
    ]
    assert "data-delete" not in auth_client.get(LIST).content.decode()
    here = LIST + "?tab=archived&size=10"
    response = auth_client.get(here)
    delete = reverse("runs:delete_many")
    assert response.context["listing"].delete_url == delete
    body = response.content.decode()
    assert f'data-base="{delete}"' in body and f'data-next="{here.replace("&", "&amp;")}"' in body
    # What the selection builds (runs_list.js): the confirmation page, which changes nothing.
    picked = ",".join(str(run.pk) for run in old[:2])
    confirm = auth_client.get(delete, {"runs": picked, "next": here})
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "This deletes the runs for good" in page
    assert "old0" in page and "old1" in page and "old2" not in page
    assert Run.objects.count() == 4
    # Its form posts the runs back and returns to the list it came from.
    response = auth_client.post(delete, {"runs": [r.pk for r in old[:2]], "next": here})
    assert response.status_code == 302 and response["Location"] == here
    assert set(Run.objects.values_list("name", flat=True)) == {"kept", "old2"}
    assert kept.archived_at is None


def test_experiment_archived_runs_tab_offers_delete(auth_client):
    experiment = make_experiment("exp")
    make_run(make_version(), experiment, name="gone", archived_at=timezone.now())
    url = experiment.get_absolute_url() + "?runs=archived"
    body = auth_client.get(url).content.decode()
    assert f'data-base="{reverse("runs:delete_many")}"' in body
    assert f'data-next="{url}"' in body
    assert "data-delete" not in auth_client.get(experiment.get_absolute_url()).content.decode()


@pytest.mark.e2e
def test_delete_selected_archived_runs_in_the_browser(page, live_server, django_user_model):
    django_user_model.objects.create_user("lee", password="pw-lee-123")
    version, experiment = make_version(), make_experiment()
    for name in ("old-a", "old-b", "old-c"):
        make_run(version, experiment, state=RunState.FAILED, name=name, archived_at=timezone.now())
    page.goto(live_server.url + LIST + "?tab=archived")
    page.fill("#id_username", "lee")
    page.fill("#id_password", "pw-lee-123")
    page.click("button[type=submit]")
    page.check("input.rl-pick[aria-label='Select old-a']")
    page.check("input.rl-pick[aria-label='Select old-c']")
    page.click("a[data-delete]")
    page.wait_for_selector("text=This deletes the runs for good")
    page.click("form.confirm-card button[type=submit]")
    page.wait_for_url(re.compile(r"/runs/\?tab=archived$"))
    assert page.locator("input.rl-pick").count() == 1
    assert list(Run.objects.values_list("name", flat=True)) == ["old-b"]
    assert page.js_errors == []
