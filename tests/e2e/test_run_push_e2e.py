"""Push, not poll, in a real Chromium with the app's processes: the engine, a Celery worker, and
beat (whose watcher follows the engine's workflow watch), while the page is served by the live
server. A step turns green on the run page, and a run's badge on the runs list, within 1 s of
the engine reporting it; beat's own pass runs only every 5 s here, so only the push can do it.
When the event stream is unavailable, the polls still bring every change."""

from __future__ import annotations

import re
import threading
import time

import pytest

from apps.experiments.models import Experiment
from apps.orchestration.argo import ArgoError, get_client
from apps.pipelines.services import create_version
from apps.runs.constants import RunState
from apps.runs.models import Run
from apps.runs.services import create_run
from tests.processes import CeleryProcess, app_env, clear_redis

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
PASSWORD = "pw-push-viewer-3"

STEPS = b"""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: pushed-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: first
        template: nap
      - name: second
        template: nap
        depends: first
  - name: nap
    container:
      image: busybox
      command: [sh, -c, "sleep 2"]
"""

# Records, in the page, when each graph node first shows as succeeded (and when the run's
# state badge on the list does): the browser's clock, the same machine's as the test's.
OBSERVE = """() => {
  window.__seen = {};
  const look = () => {
    const now = Date.now();
    document.querySelectorAll('.node[data-node].phase-succeeded').forEach((n) => {
      const key = 'node:' + n.getAttribute('data-node');
      if (!(key in window.__seen)) window.__seen[key] = now;
    });
    document.querySelectorAll('#run-table tr .state-succeeded').forEach((b) => {
      const pick = b.closest('tr').querySelector('input.rl-pick');
      const key = 'row:' + (pick ? pick.value : '');
      if (!(key in window.__seen)) window.__seen[key] = now;
    });
  };
  new MutationObserver(look).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['class'],
  });
  look();
}"""


def start_processes(settings, tmp_path, sync_interval: str) -> list[CeleryProcess]:
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith("redis://"):
        pytest.skip("needs the Redis broker: run the suite with REDIS_URL set (make test does)")
    clear_redis(settings)  # this session's keys only: others may share the Redis database
    env = app_env(
        settings,
        redis_url=broker,
        data_dir=tmp_path / "app",
        extra={"YDP_SYNC_INTERVAL_SECONDS": sync_interval},
    )
    return [
        CeleryProcess(env, tmp_path / "worker.log").start(),
        CeleryProcess(env, tmp_path / "beat.log", beat=True).start(),
    ]


@pytest.fixture
def processes(argo, settings, tmp_path, request):
    started = start_processes(settings, tmp_path, request.param)
    yield started
    for process in started:
        process.stop()


class EngineClock:
    """The moments the engine reports things of one workflow, read from its own watch in a
    thread: when each node first shows Succeeded, and when the workflow does."""

    def __init__(self, workflow: str) -> None:
        self.workflow = workflow
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        client = get_client()
        while not self.stop.is_set():
            try:
                for event in client.watch_workflows(
                    namespace="argo",
                    field_selector=f"metadata.name={self.workflow}",
                    fields="result.type,result.object.status.phase,result.object.status.nodes",
                    timeout_seconds=5,
                ):
                    now = time.time()
                    status = (event.get("object") or {}).get("status") or {}
                    for node in (status.get("nodes") or {}).values():
                        if node.get("type") == "Pod" and node.get("phase") == "Succeeded":
                            self.seen.setdefault("node:" + node["displayName"], now)
                    if status.get("phase") == "Succeeded":
                        self.seen.setdefault("workflow", now)
                    if self.stop.is_set():
                        return
            except ArgoError:
                time.sleep(0.05)  # not created yet


def sign_in(page, live_server, django_user_model) -> None:
    django_user_model.objects.create_user("pushy", "pushy@example.com", PASSWORD)
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "pushy")
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/pipelines/$"))


def start_run(version, name: str) -> tuple[Run, EngineClock]:
    experiment, _ = Experiment.objects.get_or_create(name="push")
    run = create_run(version=version, experiment=experiment, parameters={}, name=name)
    return run, EngineClock(run.workflow_name)


def wait_finished(run: Run, timeout: float = 60) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_finished:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run.pk} still {run.state}")


# The 1 s it checks is the push path's (the engine's watch, Redis, the page), which no
# database changes: run where the machine is least loaded, on the PostgreSQL pass only.
@pytest.mark.any_database
@pytest.mark.parametrize("processes", ["5"], indirect=True)
@pytest.mark.slow
def test_a_step_turns_green_within_a_second_of_the_engine(
    processes, page, live_server, django_user_model, shot
):
    version = create_version(upload_name="push.yaml", data=STEPS, pipeline_name="pushed")
    sign_in(page, live_server, django_user_model)

    run, clock = start_run(version, "watched live")
    page.goto(live_server.url + run.get_absolute_url())
    page.locator("html[data-live-stream='open']").wait_for()
    page.evaluate(OBSERVE)
    run = wait_finished(run)
    assert run.state == RunState.SUCCEEDED
    expect(page.locator("#run-status .badge", has_text="Succeeded")).to_be_visible()
    for key in ("first", "second"):  # the phases move onto the graph after the header's swap
        graph_node = page.locator(f'[data-run-graph] .node[data-node="{key}"]')
        expect(graph_node).to_have_class(re.compile(r"\bphase-succeeded\b"))
    clock.stop.set()
    seen = page.evaluate("window.__seen")
    delays = {}
    for key in ("node:first", "node:second"):
        assert key in clock.seen and key in seen, (clock.seen, seen)
        delays[key] = seen[key] / 1000 - clock.seen[key]
    print(f"RESULT step green on the run page after the engine reported it: {delays}")
    assert all(-0.05 < d <= 1.0 for d in delays.values()), delays
    shot(page, "run-push-succeeded")

    # The runs list: the run's badge turns Succeeded as its workflow ends.
    listed, clock = start_run(version, "listed live")
    page.goto(live_server.url + "/runs/")
    page.locator("html[data-live-stream='open']").wait_for()
    page.evaluate(OBSERVE)
    listed = wait_finished(listed)
    row = page.locator("#run-table tr", has=page.locator(f'input.rl-pick[value="{listed.pk}"]'))
    expect(row.locator(".state-succeeded")).to_be_visible()
    clock.stop.set()
    seen = page.evaluate("window.__seen")
    delay = seen[f"row:{listed.pk}"] / 1000 - clock.seen["workflow"]
    print(f"RESULT run badge on the runs list after the engine reported the end: {delay:.3f} s")
    assert -0.05 < delay <= 1.0, delay
    assert page.locator("[data-run-poll]").count() == 0  # nothing active: no poll, no stream
    shot(page, "runs-list-push")

    # An experiment's page shows the same table, live the same way.
    grouped, clock = start_run(version, "grouped live")
    page.goto(live_server.url + grouped.experiment.get_absolute_url())
    page.locator("html[data-live-stream='open']").wait_for()
    page.evaluate(OBSERVE)
    grouped = wait_finished(grouped)
    row = page.locator("#run-table tr", has=page.locator(f'input.rl-pick[value="{grouped.pk}"]'))
    expect(row.locator(".state-succeeded")).to_be_visible()
    clock.stop.set()
    delay = page.evaluate("window.__seen")[f"row:{grouped.pk}"] / 1000 - clock.seen["workflow"]
    print(
        f"RESULT run badge on an experiment's page after the engine reported the end: {delay:.3f} s"
    )
    # While the stream is open the timed poll is held back (15 s), so the badge came by push;
    # the bound is looser than the run page's 1 s goal: this page's refresh renders the whole
    # table, and took 0.49-0.73 s here (1.31 s once, at load average 20).
    assert -0.05 < delay <= 1.5, delay
    assert page.locator("[data-run-poll]").count() == 0
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("processes", ["1"], indirect=True)
def test_without_the_event_stream_the_pages_poll(processes, page, live_server, django_user_model):
    refused: list[str] = []

    def refuse(route) -> None:
        refused.append(route.request.url)
        route.fulfill(status=503, body="no push here", content_type="text/plain")

    page.route(re.compile(r"/events/$"), refuse)
    version = create_version(upload_name="poll.yaml", data=STEPS, pipeline_name="polled")
    sign_in(page, live_server, django_user_model)
    run, clock = start_run(version, "polled run")
    page.goto(live_server.url + run.get_absolute_url())
    page.locator("html[data-live-stream='polling']").wait_for()
    node = page.locator('[data-run-graph] .node[data-node="second"]')
    expect(node).to_have_class(re.compile(r"\bphase-succeeded\b"), timeout=60_000)
    expect(page.locator("#run-status .badge", has_text="Succeeded")).to_be_visible()
    clock.stop.set()
    assert refused, "the page never asked for the stream"
    assert page.js_errors == []  # type: ignore[attr-defined]
