"""find_version: the one reading of "version id | pipeline | pipeline:version" (the
run_pipeline command and the API's run creation both use it)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from apps.pipelines.models import Pipeline
from apps.pipelines.services import VersionNotFound, create_version, find_version
from apps.runs.management.commands.run_pipeline import find_version as command_find_version
from tests.api.conftest import WORKFLOW

pytestmark = pytest.mark.django_db


def test_by_id_name_and_pipeline_colon_version():
    v1 = create_version(upload_name="a.yaml", data=WORKFLOW, pipeline_name="hello")
    v2 = create_version(upload_name="a.yaml", data=WORKFLOW, pipeline=v1.pipeline)
    assert find_version(str(v1.pk)) == v1
    assert find_version("hello") == v2  # the latest
    assert find_version("hello:v1") == v1
    with pytest.raises(VersionNotFound, match="no version 'v9'"):
        find_version("hello:v9")
    with pytest.raises(VersionNotFound, match="no pipeline version 'absent'"):
        find_version("absent")
    with pytest.raises(CommandError, match="absent"):
        command_find_version("absent")


def test_only_among_the_pipelines_given():
    v1 = create_version(upload_name="a.yaml", data=WORKFLOW, pipeline_name="hello")
    hidden = Pipeline.objects.exclude(pk=v1.pipeline_id)
    with pytest.raises(VersionNotFound):
        find_version(str(v1.pk), pipelines=hidden)
    with pytest.raises(VersionNotFound):
        find_version("hello", pipelines=hidden)
