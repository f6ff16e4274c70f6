"""The pipeline pages over the real test client: access, pages, HTMX partials, search, paging,
sorting, upload (success and refusals shown on the form), downloads, and pinned query counts."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth import views as auth_views
from django.core.files.base import ContentFile
from django.urls import NoReverseMatch, include, path, reverse
from django.utils import timezone
from django.views.generic import RedirectView

from apps.pipelines.filters import PipelineFilter
from apps.pipelines.models import EngineCheck, Pipeline, PipelineVersion
from apps.pipelines.views import pipeline_queryset
from tests.conftest import shared_path
from tests.experiments.builders import closed_port_url

# A URLconf without the runs app's pages, for the "Create run" button's disabled state.
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="pipelines:list"), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("pipelines/", include("apps.pipelines.urls")),
]

MANIFEST: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"generateName": "demo-"},
    "spec": {
        "entrypoint": "main",
        "arguments": {"parameters": [{"name": "rate", "value": "0.1"}]},
        "templates": [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "prepare", "template": "step"},
                        {"name": "train", "template": "step", "dependencies": ["prepare"]},
                        {"name": "report", "template": "step", "dependencies": ["train"]},
                    ]
                },
            },
            {"name": "step", "container": {"image": "python:3.11", "command": ["true"]}},
        ],
    },
}

FIXTURES = ("corpora", "elyra-fixtures", "elyra", "tests", "pipeline", "resources")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def no_argo(settings) -> None:
    """The engine check of uploads and version pages meets a closed port, not whatever
    listens on the default one (tests/pipelines/test_engine_check.py uses the engine)."""
    settings.ARGO_SERVER = closed_port_url()


def _bundle(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def make_version(
    pipeline: Pipeline,
    name: str,
    *,
    parameters: list[dict[str, Any]] | None = None,
    files: dict[str, bytes] | None = None,
    user: Any = None,
) -> PipelineVersion:
    """A version stored directly (not through an importer), for the pages that only show one."""
    data = _bundle(files or {"workflow.yaml": yaml.safe_dump(MANIFEST).encode()})
    version = PipelineVersion(
        pipeline=pipeline,
        name=name,
        source_format="argo",
        source_filename="workflow.yaml",
        manifest=MANIFEST,
        spec={},
        parameters=parameters
        if parameters is not None
        else [{"name": "rate", "type": "Float", "default": 0.1, "description": "Learning rate"}],
        node_count=3,
        content_hash=f"{name:0<64}"[:64],
        bundle_size=len(data),
        created_by=user,
    )
    version.bundle.save("bundle.zip", ContentFile(data), save=False)
    version.save()
    return version


def make_pipelines(count: int, versions: int = 1) -> list[Pipeline]:
    pipelines = []
    for i in range(count):
        pipeline = Pipeline.objects.create(name=f"pipe-{i:03d}", description=f"number {i}")
        for v in range(versions):
            make_version(pipeline, f"v{v + 1}")
        pipelines.append(pipeline)
    return pipelines


def fixture_file(name: str) -> Path:
    return shared_path(*FIXTURES, "validation_pipelines", name)


def post_upload(client, filename: str, data: bytes, **fields: str):
    upload = io.BytesIO(data)
    upload.name = filename
    payload = {"target": "new", "name": "", "version_name": "", "description": "", **fields}
    return client.post(reverse("pipelines:upload"), {**payload, "file": upload})


# ---------------------------------------------------------------- access


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    ["list", "upload", "detail", "version", "version_yaml", "version_bundle"],
)
def test_every_page_needs_a_login(client, name: str) -> None:
    pipeline = Pipeline.objects.create(name="p")
    version = make_version(pipeline, "v1")
    args = {
        "list": [],
        "upload": [],
        "detail": [pipeline.pk],
        "version": [pipeline.pk, version.pk],
        "version_yaml": [pipeline.pk, version.pk],
        "version_bundle": [pipeline.pk, version.pk],
    }[name]
    url = reverse(f"pipelines:{name}", args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_login_page_renders_and_signs_in(client, user) -> None:
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b"Sign in" in page.content
    response = client.post(reverse("login"), {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302
    assert client.get(reverse("pipelines:list")).status_code == 200


@pytest.mark.django_db
def test_logout_is_a_post_form(auth_client) -> None:
    page = auth_client.get(reverse("pipelines:list")).content.decode()
    assert f'<form method="post" action="{reverse("logout")}">' in page
    assert auth_client.post(reverse("logout")).status_code == 302
    assert auth_client.get(reverse("pipelines:list")).status_code == 302


@pytest.mark.django_db
def test_list_refuses_post(auth_client) -> None:
    assert auth_client.post(reverse("pipelines:list")).status_code == 405


# ---------------------------------------------------------------- list


@pytest.mark.django_db
def test_empty_list_says_what_to_do(auth_client) -> None:
    page = auth_client.get(reverse("pipelines:list")).content.decode()
    assert "No pipelines yet" in page
    assert reverse("pipelines:upload") in page
    # The sidebar shows all six sections; those without pages yet are marked, not linked.
    for label in ("Pipelines", "Experiments", "Runs", "Recurring Runs", "Artifacts", "Executions"):
        assert f"<span>{label}</span>" in page
    try:
        reverse("executions:list")
    except NoReverseMatch:
        assert 'aria-disabled="true"' in page
    else:
        assert 'aria-disabled="true"' not in page


@pytest.mark.django_db
def test_list_shows_columns(auth_client) -> None:
    pipeline = Pipeline.objects.create(name="churn", description="Predicts churn")
    make_version(pipeline, "v1")
    latest = make_version(pipeline, "v2")
    page = auth_client.get(reverse("pipelines:list")).content.decode()
    assert f'href="/pipelines/{pipeline.pk}/"' in page
    assert "Predicts churn" in page
    assert latest.get_absolute_url() in page
    assert '<td class="num">2</td>' in page


@pytest.mark.django_db
def test_htmx_request_gets_only_the_table(auth_client) -> None:
    make_pipelines(2)
    response = auth_client.get(reverse("pipelines:list"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="pipeline-table"')
    assert 'id="sort-input"' in body and 'hx-swap-oob="true"' in body
    assert 'id="pipeline-table"' in body
    assert "<html" not in body and "sidebar" not in body and "pipe-001" in body
    assert "HX-Request" in response["Vary"]
    # A history restore (the page left htmx's cache) gets the whole page.
    restore = auth_client.get(
        reverse("pipelines:list"),
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.content.decode()


@pytest.mark.django_db
def test_search_by_name_and_description(auth_client) -> None:
    Pipeline.objects.create(name="churn-model", description="customer churn")
    Pipeline.objects.create(name="fraud", description="card fraud detection")
    Pipeline.objects.create(name="weather", description="NOAA data")

    def names(query: str) -> list[str]:
        response = auth_client.get(
            reverse("pipelines:list"), {"q": query}, headers={"HX-Request": "true"}
        )
        return [p.name for p in response.context["page"].object_list]

    assert names("churn") == ["churn-model"]
    assert names("DETECTION") == ["fraud"]
    assert names("card fraud") == ["fraud"]
    assert names("card churn") == []
    assert sorted(names("")) == ["churn-model", "fraud", "weather"]
    page = auth_client.get(reverse("pipelines:list"), {"q": "zzz"}).content.decode()
    assert "No pipelines match “zzz”" in page


@pytest.mark.django_db
def test_pagination_twenty_a_page(auth_client) -> None:
    make_pipelines(25, versions=0)
    first = auth_client.get(reverse("pipelines:list"))
    second = auth_client.get(reverse("pipelines:list"), {"page": 2})
    first_names = [p.name for p in first.context["page"].object_list]
    second_names = [p.name for p in second.context["page"].object_list]
    assert len(first_names) == 20 and len(second_names) == 5
    assert not set(first_names) & set(second_names)
    assert "21\u201325 of 25 pipelines" in second.content.decode()


@pytest.mark.django_db
def test_sort_by_name_and_versions(auth_client) -> None:
    _, b, c = make_pipelines(3, versions=0)
    make_version(b, "v1")
    make_version(b, "v2")
    make_version(c, "v1")

    def names(sort: str) -> list[str]:
        response = auth_client.get(reverse("pipelines:list"), {"sort": sort})
        return [p.name for p in response.context["page"].object_list]

    assert names("name") == ["pipe-000", "pipe-001", "pipe-002"]
    assert names("-name") == ["pipe-002", "pipe-001", "pipe-000"]
    assert names("-versions") == ["pipe-001", "pipe-002", "pipe-000"]


@pytest.mark.django_db
def test_filterset_directly() -> None:
    Pipeline.objects.create(name="alpha", description="first one")
    Pipeline.objects.create(name="beta", description="second ALPHA-like")
    qs = PipelineFilter({"q": "alpha"}, queryset=pipeline_queryset()).qs
    assert sorted(p.name for p in qs) == ["alpha", "beta"]
    qs = PipelineFilter({"q": "first"}, queryset=pipeline_queryset()).qs
    assert [p.name for p in qs] == ["alpha"]
    qs = PipelineFilter({"sort": "name"}, queryset=pipeline_queryset()).qs
    assert [p.name for p in qs] == ["alpha", "beta"]


@pytest.mark.django_db
@pytest.mark.parametrize("count", [2, 25])
def test_list_query_count_is_fixed(auth_client, django_assert_num_queries, count: int) -> None:
    make_pipelines(count, versions=2)
    # session, user, count, page: the same whatever the number of rows, the caller's projects and
    # roles
    with django_assert_num_queries(5):
        response = auth_client.get(reverse("pipelines:list"))
    assert len(response.context["page"].object_list) == min(count, 20)
    with django_assert_num_queries(5):
        auth_client.get(reverse("pipelines:list"), {"q": "pipe"}, headers={"HX-Request": "true"})


# ---------------------------------------------------------------- detail


@pytest.mark.django_db
def test_detail_lists_versions(auth_client, user) -> None:
    pipeline = Pipeline.objects.create(name="churn", description="Predicts churn")
    v1 = make_version(pipeline, "v1", user=user)
    v2 = make_version(pipeline, "v2", parameters=[])
    page = auth_client.get(pipeline.get_absolute_url()).content.decode()
    assert "Predicts churn" in page
    assert v1.get_absolute_url() in page and v2.get_absolute_url() in page
    assert "alice" in page
    assert f"{reverse('pipelines:upload')}?pipeline={pipeline.pk}" in page


@pytest.mark.django_db
@pytest.mark.parametrize("versions", [1, 15])
def test_detail_query_count_is_fixed(auth_client, django_assert_num_queries, versions) -> None:
    (pipeline,) = make_pipelines(1, versions=versions)
    # session, user, pipeline, versions (with their creators), the caller's projects and roles
    with django_assert_num_queries(5):
        auth_client.get(pipeline.get_absolute_url())


@pytest.mark.django_db
def test_detail_404_for_unknown_pipeline(auth_client) -> None:
    assert auth_client.get(reverse("pipelines:detail", args=[999999])).status_code == 404


# ---------------------------------------------------------------- version page


@pytest.mark.django_db
def test_version_graph_tab(auth_client) -> None:
    pipeline = Pipeline.objects.create(name="churn")
    version = make_version(pipeline, "v1")
    response = auth_client.get(version.get_absolute_url())
    page = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in page and 'data-node="train"' in page
    assert "3 nodes · 2 edges" in page
    # The tabs are real links.
    for tab in ("graph", "yaml", "parameters", "files"):
        assert f'href="?tab={tab}"' in page


@pytest.mark.django_db
def test_version_yaml_tab_and_download(auth_client) -> None:
    pipeline = Pipeline.objects.create(name="churn")
    version = make_version(pipeline, "v1")
    page = auth_client.get(version.get_absolute_url(), {"tab": "yaml"}).content.decode()
    assert '<span class="y-key">apiVersion</span>: argoproj.io/v1alpha1' in page
    download = auth_client.get(reverse("pipelines:version_yaml", args=[pipeline.pk, version.pk]))
    assert download["Content-Type"].startswith("application/yaml")
    assert 'filename="churn-v1.yaml"' in download["Content-Disposition"]
    assert yaml.safe_load(download.content) == MANIFEST


@pytest.mark.django_db
def test_version_parameters_tab(auth_client) -> None:
    pipeline = Pipeline.objects.create(name="churn")
    version = make_version(pipeline, "v1")
    page = auth_client.get(version.get_absolute_url(), {"tab": "parameters"}).content.decode()
    assert "<code>rate</code>" in page and "Learning rate" in page and "Float" in page
    empty = make_version(pipeline, "v2", parameters=[])
    page = auth_client.get(empty.get_absolute_url(), {"tab": "parameters"}).content.decode()
    assert "No parameters" in page


@pytest.mark.django_db
def test_version_files_tab_and_bundle_download(auth_client) -> None:
    pipeline = Pipeline.objects.create(name="churn")
    files = {"flow.pipeline": b"{}", "src/prepare.py": b"print(1)\n" * 100}
    version = make_version(pipeline, "v1", files=files)
    page = auth_client.get(version.get_absolute_url(), {"tab": "files"}).content.decode()
    assert "flow.pipeline" in page and "src/prepare.py" in page
    assert "900\xa0bytes" in page
    response = auth_client.get(reverse("pipelines:version_bundle", args=[pipeline.pk, version.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == sorted(files)


@pytest.mark.django_db
def test_unknown_tab_falls_back_to_graph(auth_client) -> None:
    version = make_version(Pipeline.objects.create(name="p"), "v1")
    response = auth_client.get(version.get_absolute_url(), {"tab": "nope"})
    assert response.context["tab"] == "graph"


@pytest.mark.django_db
def test_version_of_another_pipeline_is_404(auth_client) -> None:
    a = Pipeline.objects.create(name="a")
    b = Pipeline.objects.create(name="b")
    version = make_version(a, "v1")
    url = reverse("pipelines:version", args=[b.pk, version.pk])
    assert auth_client.get(url).status_code == 404


@pytest.mark.django_db
@pytest.mark.urls("tests.pipelines.test_views")
def test_create_run_disabled_until_runs_exist(auth_client) -> None:
    version = make_version(Pipeline.objects.create(name="p"), "v1")
    with pytest.raises(NoReverseMatch):
        reverse("runs:create")
    page = auth_client.get(version.get_absolute_url()).content.decode()
    assert "Runs arrive in the next release." in page
    assert 'aria-disabled="true" aria-describedby="create-run-hint" disabled' in page


@pytest.mark.django_db
def test_create_run_links_to_the_run_form(auth_client) -> None:
    version = make_version(Pipeline.objects.create(name="p"), "v1")
    page = auth_client.get(version.get_absolute_url()).content.decode()
    assert f'href="{reverse("runs:create")}?version={version.pk}"' in page
    assert "Runs arrive in the next release." not in page


@pytest.mark.django_db
@pytest.mark.parametrize("tab", ["graph", "yaml", "parameters", "files"])
def test_version_query_count(auth_client, django_assert_num_queries, settings, tab) -> None:
    version = make_version(Pipeline.objects.create(name="p"), "v1")
    # The engine check made at upload rides along with the version's query.
    EngineCheck.objects.create(
        version=version, server=settings.ARGO_SERVER, outcome="ok", checked_at=timezone.now()
    )
    # session, user, version (with pipeline, creator, engine check), the version switcher's list,
    # the caller's projects and roles
    with django_assert_num_queries(5):
        auth_client.get(version.get_absolute_url(), {"tab": tab})


# ---------------------------------------------------------------- upload


@pytest.mark.django_db
def test_upload_page_preselects_pipeline(auth_client) -> None:
    pipeline = Pipeline.objects.create(name="churn")
    page = auth_client.get(reverse("pipelines:upload"), {"pipeline": pipeline.pk}).content.decode()
    assert 'value="existing" id="id_target_1" checked' in page.replace("required ", "")
    assert f'<option value="{pipeline.pk}" selected>churn</option>' in page


@pytest.mark.django_db
def test_upload_wrong_extension_is_refused_on_the_form(auth_client) -> None:
    response = post_upload(auth_client, "notes.txt", b"hello", name="mine")
    assert response.status_code == 200
    assert "is not a pipeline file" in response.content.decode()
    assert 'value="mine"' in response.content.decode()
    assert not Pipeline.objects.exists()


@pytest.mark.django_db
def test_upload_too_big_is_refused(auth_client, settings) -> None:
    settings.YDP_MAX_UPLOAD_BYTES = 1000
    response = post_upload(auth_client, "big.yaml", b"a: 1\n" * 400, name="big")
    assert "file too large (max 1,000 bytes)" in response.content.decode()
    assert not Pipeline.objects.exists()


@pytest.mark.django_db
def test_upload_new_pipeline_from_argo_yaml(auth_client, user) -> None:
    data = yaml.safe_dump(MANIFEST).encode()
    response = post_upload(
        auth_client, "demo.yaml", data, name="demo", version_name="first", description="hello"
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    version = PipelineVersion.objects.get()
    assert version.pipeline.name == "demo" and version.name == "first"
    assert response["Location"] == version.get_absolute_url()
    page = auth_client.get(response["Location"]).content.decode()
    assert "Uploaded “demo” version “first”" in page
    assert "<svg" in page


@pytest.mark.django_db
def test_upload_new_version_of_existing_pipeline(auth_client) -> None:
    pipeline = Pipeline.objects.create(name="demo")
    make_version(pipeline, "v1")
    data = yaml.safe_dump(MANIFEST).encode()
    response = post_upload(
        auth_client,
        "demo.yaml",
        data,
        target="existing",
        pipeline=str(pipeline.pk),
        version_name="v2",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert sorted(pipeline.versions.values_list("name", flat=True)) == ["v1", "v2"]


@pytest.mark.django_db
def test_upload_elyra_file_from_the_corpus(auth_client) -> None:
    path = fixture_file("generic_basic_pipeline_only_notebook.pipeline")
    response = post_upload(auth_client, path.name, path.read_bytes(), name="nb")
    assert response.status_code == 302, response.content.decode()[:3000]
    version = PipelineVersion.objects.get()
    page = auth_client.get(version.get_absolute_url()).content.decode()
    assert version.node_count >= 1 and "<svg" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filename", "data", "expected"),
    [
        ("broken.pipeline", b'{"doc_type": "pipeline", "pipelines": [', "JSON"),
        ("broken.yaml", b"kind: Workflow\nspec: [unclosed\n", "YAML"),
        ("bad.zip", b"PK\x03\x04 not really a zip", "zip"),
        ("deep.json", b"[" * 100_000, "nested too deeply"),
        ("deep.json", b'{"kind": "Workflow", "spec": ' + b"[" * 500 + b"]" * 500 + b"}", "deep"),
    ],
)
def test_upload_malformed_file_shows_error_and_stores_nothing(
    auth_client, filename: str, data: bytes, expected: str
) -> None:
    response = post_upload(
        auth_client, filename, data, name="keep-me", version_name="v9", description="typed text"
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "The upload was refused" in page
    assert expected.lower() in response.context["form"].non_field_errors()[0].lower()
    # What the user typed is still there.
    assert 'value="keep-me"' in page and 'value="v9"' in page and "typed text" in page
    assert not Pipeline.objects.exists() and not PipelineVersion.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("generic_single_cycle.pipeline", "cycle"),
        ("generic_invalid_node_property_image_name.pipeline", "image"),
        ("generic_malformed_basic_pipeline_only_notebook.pipeline", ""),
    ],
)
def test_upload_invalid_elyra_fixture_is_refused(auth_client, fixture: str, expected: str) -> None:
    path = fixture_file(fixture)
    response = post_upload(auth_client, path.name, path.read_bytes(), name="bad")
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert errors, response.content.decode()[:2000]
    assert expected in errors[0].lower()
    assert not Pipeline.objects.exists()


@pytest.mark.django_db
def test_upload_new_version_keeps_the_existing_pipeline_untouched(auth_client) -> None:
    pipeline = Pipeline.objects.create(name="demo", description="kept")
    make_version(pipeline, "v1")
    response = post_upload(
        auth_client, "x.pipeline", b"{not json", target="existing", pipeline=str(pipeline.pk)
    )
    assert response.status_code == 200
    assert list(pipeline.versions.values_list("name", flat=True)) == ["v1"]
    assert Pipeline.objects.get().description == "kept"


@pytest.mark.django_db
def test_graph_escapes_node_labels(auth_client) -> None:
    manifest = json.loads(json.dumps(MANIFEST))
    manifest["spec"]["templates"][0]["dag"]["tasks"][0]["name"] = "<script>alert(1)</script>"
    manifest["spec"]["templates"][0]["dag"]["tasks"][1]["dependencies"] = [
        "<script>alert(1)</script>"
    ]
    pipeline = Pipeline.objects.create(name="x")
    version = PipelineVersion(
        pipeline=pipeline,
        name="v1",
        source_format="argo",
        source_filename="w.yaml",
        manifest=manifest,
        spec={},
        node_count=3,
        content_hash="0" * 64,
    )
    version.save()
    page = auth_client.get(version.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in page


def _zip_folder(folder: Path, *, leave_out: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for item in sorted(folder.rglob("*")):
            if item.is_file() and item.name != leave_out:
                archive.write(item, f"{folder.name}/{item.relative_to(folder)}")
    return buffer.getvalue()


@pytest.mark.django_db
def test_upload_zip_of_a_corpus_folder_then_lone_file_warns(auth_client) -> None:
    folder = shared_path(
        "corpora", "elyra-examples", "pipelines", "run-generic-pipelines-on-kubeflow-pipelines"
    )
    response = post_upload(auth_client, "hello.zip", _zip_folder(folder), name="hello")
    assert response.status_code == 302, response.content.decode()[:3000]
    version = PipelineVersion.objects.get()
    assert version.node_count == 4
    page = auth_client.get(version.get_absolute_url(), {"tab": "files"}).content.decode()
    assert "load_data.ipynb" in page and "Part 2 - Data Analysis.ipynb" in page
    assert "not uploaded" not in page

    # The same .pipeline on its own: stored, with a warning naming the files it lacks.
    lone = folder / "hello-generic-world.pipeline"
    response = post_upload(
        auth_client,
        lone.name,
        lone.read_bytes(),
        target="existing",
        pipeline=str(version.pipeline_id),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    page = auth_client.get(response["Location"]).content.decode()
    assert "not uploaded" in page and "load_data.ipynb" in page


@pytest.mark.django_db
def test_upload_zip_lacking_a_referenced_file_is_refused_naming_it(auth_client) -> None:
    folder = shared_path(
        "corpora", "elyra-examples", "pipelines", "run-generic-pipelines-on-kubeflow-pipelines"
    )
    data = _zip_folder(folder, leave_out="load_data.ipynb")
    response = post_upload(auth_client, "hello.zip", data, name="hello")
    assert response.status_code == 200
    assert response.context["missing"] == ["load_data.ipynb"]
    page = response.content.decode()
    assert 'id="upload-missing"' in page and "<code>load_data.ipynb</code>" in page
    assert "Nothing was stored" in page
    # The explicit way through is offered, unticked.
    assert (
        'name="allow_missing"' in page
        and "checked" not in page.split('name="allow_missing"')[1][:40]
    )
    assert not Pipeline.objects.exists()

    # "Upload anyway": stored, and the version page warns as for a lone .pipeline file.
    response = post_upload(auth_client, "hello.zip", data, name="hello", allow_missing="on")
    assert response.status_code == 302, response.content.decode()[:3000]
    version = PipelineVersion.objects.get()
    assert version.node_count == 4
    assert version.spec["metadata"]["missing_files"] == ["load_data.ipynb"]
    page = auth_client.get(response["Location"]).content.decode()
    assert "1 file the nodes use was not uploaded" in page
    assert "<code>load_data.ipynb</code>" in page
    files = auth_client.get(version.get_absolute_url(), {"tab": "files"}).content.decode()
    assert "Part 2 - Data Analysis.ipynb" in files


@pytest.mark.django_db
def test_upload_anyway_does_not_excuse_other_problems(auth_client) -> None:
    doc = {
        "doc_type": "pipeline",
        "version": "3.0",
        "id": "p",
        "primary_pipeline": "p1",
        "pipelines": [
            {
                "id": "p1",
                "nodes": [
                    {
                        "id": "a",
                        "type": "execution_node",
                        "op": "execute-notebook-node",
                        "app_data": {
                            "label": "a",
                            "component_parameters": {
                                "filename": "a.ipynb",
                                "runtime_image": "python:3.11",
                                "memory": "lots",
                            },
                        },
                    }
                ],
                "app_data": {"version": 8, "properties": {}},
            }
        ],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("p.pipeline", json.dumps(doc))
    data = buffer.getvalue()
    response = post_upload(auth_client, "p.zip", data, name="p")
    errors = response.context["form"].non_field_errors()
    # Not only missing files: an ordinary refusal, no "upload anyway" offered.
    assert errors and "memory must be a number" in errors[0]
    assert response.context["missing"] == []
    assert 'name="allow_missing"' not in response.content.decode()
    response = post_upload(auth_client, "p.zip", data, name="p", allow_missing="on")
    errors = response.context["form"].non_field_errors()
    assert errors and "memory" in errors[0]
    assert not Pipeline.objects.exists()


@pytest.mark.django_db
def test_yaml_tab_shows_the_beginning_of_a_huge_manifest(auth_client, monkeypatch) -> None:
    from apps.pipelines import views

    pipeline = Pipeline.objects.create(name="huge")
    manifest = json.loads(json.dumps(MANIFEST))
    tasks = [{"name": f"task-{i:04d}", "template": "step"} for i in range(3000)]
    manifest["spec"]["templates"][0]["dag"]["tasks"] = tasks
    version = PipelineVersion(
        pipeline=pipeline,
        name="v1",
        source_format="argo",
        source_filename="w.yaml",
        manifest=manifest,
        spec={},
        node_count=3000,
        content_hash="0" * 64,
    )
    version.save()
    preview, cut = views.manifest_yaml_preview(version)
    assert not cut or len(preview) < views.YAML_PREVIEW_CHARS * 1.5
    monkeypatch.setattr(views, "YAML_PREVIEW_CHARS", 5_000)
    page = auth_client.get(version.get_absolute_url(), {"tab": "yaml"}).content.decode()
    assert "too long to show whole" in page
    assert "task-0000" in page and "task-2999" not in page
    # The download has every task.
    download = auth_client.get(reverse("pipelines:version_yaml", args=[pipeline.pk, version.pk]))
    assert len(yaml.safe_load(download.content)["spec"]["templates"][0]["dag"]["tasks"]) == 3000


@pytest.mark.django_db
def test_node_panel_partial(auth_client, django_assert_num_queries) -> None:
    version = make_version(Pipeline.objects.create(name="p"), "v1")
    url = version.get_absolute_url()
    # session, user, version: the panel needs nothing else, the caller's projects and roles
    with django_assert_num_queries(4):
        response = auth_client.get(
            url, {"tab": "graph", "node": "train"}, headers={"HX-Request": "true"}
        )
    body = response.content.decode()
    assert body.lstrip().startswith('<aside id="node-panel"') and "ydp-graph" not in body
    assert "<code>python:3.11</code>" in body
    assert "<code>prepare</code>" in body and "<code>report</code>" in body
    # Without htmx the same URL is the whole page with the panel open.
    page = auth_client.get(url, {"tab": "graph", "node": "train"}).content.decode()
    assert "<svg" in page and "<code>python:3.11</code>" in page
    # An unknown node: the panel stays closed.
    response = auth_client.get(url, {"node": "nope"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and " hidden>" in response.content.decode()


@pytest.mark.django_db
def test_node_panel_of_an_elyra_node(auth_client) -> None:
    path = shared_path(
        "corpora", "elyra-examples", "pipelines", "run-generic-pipelines-on-kubeflow-pipelines"
    )
    response = post_upload(auth_client, "hello.zip", _zip_folder(path), name="hello")
    version = PipelineVersion.objects.get()
    graph_page = auth_client.get(response["Location"])
    node = graph_page.context["graph"].nodes[0]
    panel = auth_client.get(
        version.get_absolute_url(), {"node": node.key}, headers={"HX-Request": "true"}
    ).content.decode()
    assert node.label in panel
    assert "load_data.ipynb" in panel and "<h4>Command</h4>" in panel


@pytest.mark.django_db
def test_version_page_shows_the_import_notes(auth_client) -> None:
    from apps.pipelines.constants import DEFAULT_RUNTIME_IMAGE
    from apps.pipelines.services import create_version

    path = shared_path(
        "corpora",
        "elyra-formats/0432d3530e/pipelines/introduction-to-generic-pipelines",
        "hello-generic-world.pipeline",
    )
    version = create_version(upload_name=path.name, data=path.read_bytes(), pipeline_name="hello")
    page = auth_client.get(version.get_absolute_url()).content.decode()
    assert "Notes from the import" in page
    assert "&quot;Load tutorial dataset&quot;" in page and DEFAULT_RUNTIME_IMAGE in page
    # The missing notebook is said once, in its own alert, not again among the notes.
    assert "load_data.ipynb" in page and "Uploaded without the files" not in page
    files_tab = auth_client.get(version.get_absolute_url() + "?tab=files").content.decode()
    assert "Notes from the import" in files_tab


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 30])
def test_upload_page_query_count_is_fixed(auth_client, django_assert_num_queries, count) -> None:
    make_pipelines(count)
    # session, user, the pipeline choices: one query whatever their number, the caller's projects
    # and roles
    with django_assert_num_queries(4):
        auth_client.get(reverse("pipelines:upload"))
    folder = shared_path(
        "corpora", "elyra-examples", "pipelines", "run-generic-pipelines-on-kubeflow-pipelines"
    )
    data = _zip_folder(folder, leave_out="load_data.ipynb")
    # A refusal for missing files: session, user, the name check, the name check of the
    # service, the pipeline choices; no write.
    with django_assert_num_queries(6):
        response = post_upload(auth_client, "hello.zip", data, name="hello")
    assert response.context["missing"] == ["load_data.ipynb"]
