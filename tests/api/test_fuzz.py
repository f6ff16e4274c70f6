"""A property-based fuzz of the API from its own OpenAPI document (schemathesis): whatever
the generated input, no 500, every status documented, every body of the documented shape.

The app is called in-process through its WSGI handler, with a write token, beside a little
data (a pipeline, an experiment, a run with a step), and Argo pointed at a closed port, so
that the operations that reach Argo fail fast with their documented error."""

from __future__ import annotations

import pytest
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from apps.api.tokens import issue_token
from apps.experiments.models import Experiment
from apps.pipelines.services import create_version
from apps.runs.models import Step
from apps.runs.services import create_run
from tests.api.conftest import WORKFLOW
from tests.experiments.builders import closed_port_url

EXAMPLES = 10  # per operation and mode: about 600 requests in all


@pytest.fixture
def in_process():
    """As Django's test client does: a request's end must not close the test's connection
    (its transaction holds the test's data)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, user, settings):
    settings.ARGO_SERVER = closed_port_url()
    settings.ARGO_TIMEOUT_SECONDS = 1
    version = create_version(upload_name="hello.yaml", data=WORKFLOW, pipeline_name="hello")
    experiment = Experiment.objects.create(name="fuzz")
    run = create_run(version=version, experiment=experiment)
    Step.objects.create(run=run, node_id="n", name="wf.main", display_name="main", node_type="Pod")
    _, token = issue_token(user, name="fuzz", role="write")
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.timeout(900)
# The negative mode (inputs the schema refuses) takes 15 s on a quiet machine: `make test-all`.
@pytest.mark.parametrize(
    "mode",
    ["positive", pytest.param("negative", marks=pytest.mark.slow)],
)
def test_no_input_breaks_the_api(world, in_process, settings, mode):
    # (schemathesis' own pytest plugin does not run under pytest 9, pyproject.toml turns it
    # off: a plain loop of hypothesis tests, one per operation, does the same.) Imported here:
    # schemathesis and hypothesis cost every test process a second when its tests are collected.
    import schemathesis
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    mode = schemathesis.GenerationMode(mode)
    settings.ALLOWED_HOSTS = ["*"]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", in_process)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def check(case):
            case.call_and_validate(headers=world, checks=checks)

        check()
