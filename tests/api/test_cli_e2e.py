"""`ydp` as CI uses it: a subprocess with only a token, against a live app and the embedded
engine over real HTTP. The test plays Celery (submit, sync, copy outputs) in a thread."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from apps.api.tokens import issue_token
from apps.runs.constants import RunState
from apps.runs.models import STEP_OUTPUTS_PENDING, Run, Step

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


SCORED = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: scored-
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: greeting
      value: hello
  templates:
  - name: main
    dag:
      tasks:
      - name: say
        template: say
  - name: say
    container:
      image: localhost/ydp-busybox:1
      command: [sh, -c]
      args:
      - >-
        echo "{{workflow.parameters.greeting}} from the step" &&
        echo '{"metrics": [{"name": "score", "numberValue": 0.75}]}' > /tmp/metrics.json
    outputs:
      artifacts:
      - name: mlpipeline-metrics
        path: /tmp/metrics.json
"""

FAILING = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: failing-
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: localhost/ydp-busybox:1
      command: [sh, -c]
      args: ["echo about to fail; exit 3"]
"""


def test_ci_with_only_ydp_and_a_token(ydp, worker, user, live_server, tmp_path):
    _, token = issue_token(user, name="CI", role="write")

    done = ydp("logs", "whatever")
    assert done.returncode == 2 and "not logged in" in done.stderr
    done = ydp("login", live_server.url, "--token", "ydp_00000000_" + "x" * 43)
    assert done.returncode == 3 and "not valid" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = ydp("login", live_server.url, "--token", token)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "home" / ".config" / "ydp" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text()) == {"url": live_server.url, "token": token}

    (tmp_path / "scored.yaml").write_text(SCORED)
    done = ydp("upload", "scored.yaml", "--pipeline", "scored")
    assert done.returncode == 0, done.stderr
    assert "Uploaded scored v1" in done.stderr

    done = ydp("run", "scored", "--experiment", "ci", "-p", "greeting=bonjour", "--wait")
    assert done.returncode == 0, done.stderr + done.stdout
    run_id = done.stdout.strip().splitlines()[0]
    assert "Succeeded" in done.stderr
    run = Run.objects.get(pk=run_id)
    assert run.parameters["greeting"] == "bonjour" and run.experiment.name == "ci"

    done = ydp("logs", run_id)
    assert done.returncode == 0, done.stderr
    assert "==> say <==" in done.stdout and "bonjour from the step" in done.stdout
    done = ydp("logs", run_id, "say")
    assert "bonjour from the step" in done.stdout

    done = ydp("metrics", run_id, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"score": 0.75}

    done = ydp("artifacts", run_id, "--download", "out")
    assert done.returncode == 0, done.stderr
    saved = [Path(line) for line in done.stdout.split()]
    assert saved and all((tmp_path / p).is_file() for p in saved)
    assert any(b"score" in (tmp_path / p).read_bytes() for p in saved)

    # A second upload is a new version of the same pipeline.
    done = ydp("upload", "scored.yaml", "--pipeline", "scored")
    assert done.returncode == 0 and "Uploaded scored v2" in done.stderr

    # A failing pipeline: --wait exits 1.
    (tmp_path / "failing.yaml").write_text(FAILING)
    assert ydp("upload", "failing.yaml", "--pipeline", "failing").returncode == 0
    done = ydp("run", "failing", "--experiment", "ci", "--wait")
    assert done.returncode == 1, done.stderr
    assert "Failed" in done.stderr

    # Bad input: usage 2, refused by the server 3, one line each.
    done = ydp("run", "scored", "--experiment", "ci", "-p", "novalue")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    done = ydp("run", "nope", "--experiment", "ci")
    assert done.returncode == 3 and "no pipeline version" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = ydp("run")
    assert done.returncode == 2


def test_wait_returns_once_the_runs_outputs_are_readable(ydp, worker, user, live_server, tmp_path):
    """`run --wait` and `wait` return when the run has ended and its outputs are copied (the
    API's outputs_pending), and say so when they time out while the copy is still to come."""
    _, token = issue_token(user, name="CI", role="write")
    assert ydp("login", live_server.url, "--token", token).returncode == 0
    (tmp_path / "scored.yaml").write_text(SCORED)
    assert ydp("upload", "scored.yaml", "--pipeline", "scored").returncode == 0

    worker.copy_delay = 4.0  # the copy lands well after the sync sees the end
    done = ydp("run", "scored", "--experiment", "ci", "--wait")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    assert not Step.objects.filter(STEP_OUTPUTS_PENDING, run_id=run_id).exists()
    assert json.loads(ydp("metrics", run_id, "--json").stdout) == {"score": 0.75}

    # No worker copies: the run ends, its outputs do not come, `wait` times out and says why.
    worker.copy_delay = 0.0
    worker.copies.clear()
    done = ydp("run", "scored", "--experiment", "ci")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    deadline = time.monotonic() + 120
    while Run.objects.get(pk=run_id).state != RunState.SUCCEEDED:
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.3)
    done = ydp("wait", run_id, "--timeout", "1")
    assert done.returncode == 3, done.stderr
    assert "ended Succeeded, but its outputs are still being copied" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert json.loads(ydp("metrics", run_id, "--json").stdout) == {}

    worker.copies.set()  # the worker is back
    done = ydp("wait", run_id, "--timeout", "60")
    assert done.returncode == 0, done.stderr
    assert "Succeeded" in done.stderr
    assert json.loads(ydp("metrics", run_id, "--json").stdout) == {"score": 0.75}


def test_a_read_token_cannot_start_a_run(ydp, user, live_server, tmp_path):
    _, token = issue_token(user, name="reader", role="read")
    assert ydp("login", live_server.url, "--token", token).returncode == 0
    (tmp_path / "scored.yaml").write_text(SCORED)
    done = ydp("upload", "scored.yaml", "--pipeline", "scored")
    assert done.returncode == 3 and "read-only" in done.stderr


HERA_FILE = """\
from hera.workflows import DAG, Parameter, Workflow, script


@script()
def say(message: str):
    print(message)


with Workflow(
    generate_name="hello-hera-",
    entrypoint="main",
    arguments=[Parameter(name="greeting", value="hi")],
) as w:
    with DAG(name="main"):
        say(name="a", arguments={"message": "{{workflow.parameters.greeting}}"})
"""


def test_upload_zips_a_pipeline_folder_and_compiles_hera_here(ydp, user, live_server, tmp_path):
    from apps.pipelines.models import PipelineVersion
    from apps.pipelines.services import bundle_names, missing_files

    _, token = issue_token(user, name="CI", role="write")
    assert ydp("login", live_server.url, "--token", token).returncode == 0

    # A .pipeline file goes up with the notebooks and scripts of its folder.
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo" / "customer-churn.pipeline"
    done = ydp("upload", str(demo), "--pipeline", "churn")
    assert done.returncode == 0, done.stderr
    version = PipelineVersion.objects.get(pk=done.stdout.strip())
    assert missing_files(version) == []
    assert {"train_model.ipynb", "churn_model.py"} <= set(bundle_names(version))

    # A Hera file is compiled on this machine; the server receives YAML.
    (tmp_path / "flow.py").write_text(HERA_FILE)
    done = ydp("upload", "flow.py", "--pipeline", "hera flow")
    assert done.returncode == 0, done.stderr
    version = PipelineVersion.objects.get(pk=done.stdout.strip())
    assert version.source_format == "argo" and version.source_filename == "flow.yaml"
    assert version.manifest["metadata"]["generateName"] == "hello-hera-"

    # A Hera file that does not compile: one line, usage exit, nothing uploaded.
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    done = ydp("upload", "broken.py", "--pipeline", "broken")
    assert done.returncode == 2 and "boom" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = ydp("upload", "absent.yaml")
    assert done.returncode == 2 and "no such file" in done.stderr


SLOW = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: slow-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: count
        template: count
      - name: after
        template: after
        depends: count
  - name: count
    container:
      image: localhost/ydp-busybox:1
      command: [sh, -c]
      args: ["for i in 1 2 3 4; do echo tick $i; sleep 1; done"]
  - name: after
    container:
      image: localhost/ydp-busybox:1
      command: [sh, -c]
      args: ["echo after the count"]
"""


def test_logs_follow_streams_every_step_as_it_runs(ydp, worker, user, live_server, tmp_path):
    _, token = issue_token(user, name="CI", role="write")
    assert ydp("login", live_server.url, "--token", token).returncode == 0
    (tmp_path / "slow.yaml").write_text(SLOW)
    assert ydp("upload", "slow.yaml").returncode == 0  # the pipeline is named after the file
    done = ydp("run", "slow", "--experiment", "ci")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()

    # Started before the run's first step: waits for it, follows it, then the next one.
    done = ydp("logs", run_id, "--follow")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index("==> count <==") < out.index("tick 4") < out.index("==> after <==")
    assert "after the count" in out
    assert Run.objects.get(pk=run_id).is_finished
    done = ydp("logs", run_id, "count", "--follow")  # an ended step: its stored log
    assert [line for line in done.stdout.splitlines() if "tick" in line] == [
        f"tick {i}" for i in range(1, 5)
    ]


def test_the_demo_from_ci_with_only_ydp(ydp, worker, user, live_server, tmp_path):
    """The issue's acceptance walk: upload the demo, run it with a parameter, wait, read a
    metric, download an artifact."""
    _, token = issue_token(user, name="CI", role="write")
    assert ydp("login", live_server.url, "--token", token).returncode == 0
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo" / "customer-churn.pipeline"
    assert ydp("upload", str(demo), "--pipeline", "churn").returncode == 0
    # The outputs land a while after the sync sees each step's end, as on a busy worker.
    worker.copy_delay = 3.0
    done = ydp("run", "churn", "--experiment", "demo", "-p", "MAX_DEPTH=3", "--wait")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    assert Run.objects.get(pk=run_id).parameters["MAX_DEPTH"] == "3"
    # --wait returned once the outputs were copied: the metric is there at once.
    metrics = json.loads(ydp("metrics", run_id, "--json").stdout)
    assert 0.0 <= metrics["accuracy"] <= 1.0
    done = ydp("artifacts", run_id, "--download", "out")
    assert done.returncode == 0, done.stderr
    saved = [tmp_path / line for line in done.stdout.split()]
    assert any(p.suffix == ".html" for p in saved), saved
    assert all(p.is_file() and p.stat().st_size > 0 for p in saved)
