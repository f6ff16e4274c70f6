"""Elyra importer: the real corpora (walked, so a new file is covered), then each rule alone."""

from __future__ import annotations

import copy
import io
import json
import posixpath
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from apps.pipelines.constants import DEFAULT_RUNTIME_IMAGE
from apps.pipelines.importers import MissingFilesError, PipelineImportError, import_upload
from apps.pipelines.importers.elyra import MISSING_FILES_NOTE, NODE_KINDS
from tests.conftest import SHARED, shared_path

CORPORA = ("elyra-examples", "elyra-formats", "elyra-fixtures")

# Deliberately invalid files, and the words that must name their fault. Keyed by path inside
# ../shared/corpora.
INVALID = {
    "elyra-fixtures/elyra/tests/pipeline/resources/validation_pipelines/"
    "generic_malformed_basic_pipeline_only_notebook.pipeline": ["not valid JSON", "line 372"],
    "elyra-fixtures/elyra/tests/pipeline/resources/validation_pipelines/"
    "generic_single_cycle.pipeline": ["cycle", "notebookB.ipynb", "notebookD.ipynb"],
    "elyra-fixtures/elyra/tests/pipeline/resources/validation_pipelines/"
    "generic_double_cycle.pipeline": ["cycle", "notebookB.ipynb"],
    "elyra-fixtures/elyra/tests/pipeline/resources/validation_pipelines/"
    "generic_invalid_node_property_hardware_resources.pipeline": ["memory", "-2", "notebookA"],
    "elyra-fixtures/elyra/tests/pipeline/resources/validation_pipelines/"
    "generic_invalid_node_property_image_name.pipeline": [
        "'image/with spaces' is not a valid image name",
        "notebookB.ipynb",
    ],
    "elyra-fixtures/elyra/tests/cli/resources/pipelines/pipeline_with_zero_nodes.pipeline": [
        "no nodes"
    ],
    "elyra-fixtures/elyra/tests/cli/resources/pipelines/"
    "pipeline_with_zero_length_pipelines_field.pipeline": ["'pipelines' list is empty"],
    "elyra-fixtures/elyra/tests/cli/resources/pipelines/"
    "pipeline_without_pipelines_field.pipeline": ["missing required field 'pipelines'"],
    # A template with {{placeholders}} for Elyra's own tests (and a KFP component node).
    "elyra-fixtures/elyra/tests/pipeline/resources/validation_pipelines/"
    "kf_with_parameters.pipeline": ["{{pipeline_parameters}}", "elyra-kfp-examples-catalog"],
}


# Generic nodes that name no runtime image (and no pipeline default): Elyra's local runtime runs
# them, and so does this app, in its default image, saying so (node labels named in the note).
IMAGELESS = {
    "elyra-fixtures/elyra/tests/pipeline/resources/validation_pipelines/"
    "generic_invalid_node_property_structure.pipeline": ["notebookA.ipynb"],
    "elyra-fixtures/cypress/fixtures/invalid.pipeline": ["helloworld.ipynb", "helloworld.py"],
    "elyra-formats/0432d3530e/pipelines/introduction-to-generic-pipelines/"
    "hello-generic-world.pipeline": ["Load tutorial"],
    "elyra-fixtures/elyra/tests/cli/resources/pipelines/pipeline_with_script.pipeline": ['"c"'],
}


def _corpus_files() -> list[str]:
    root = SHARED / "corpora"
    found = []
    for corpus in CORPORA:
        found += sorted(str(p.relative_to(root)) for p in (root / corpus).rglob("*.pipeline"))
    return found or ["(corpora absent)"]


CORPUS = _corpus_files()


def _runnable(rel: str) -> bool:
    """Neither deliberately invalid nor holding nodes this app cannot run."""
    path = SHARED / "corpora" / rel
    return path.is_file() and rel not in INVALID and not _foreign_nodes(path)


def _load(rel: str) -> Path:
    return shared_path("corpora", *rel.split("/"))


def _foreign_nodes(path: Path) -> list[tuple[str, str]]:
    """(node id, op) of every node that is not a notebook/Python/R node, or [] if readable."""
    try:
        doc = json.loads(path.read_text())
    except ValueError:
        return []  # not JSON: the single-file test expects a refusal only if listed in INVALID
    nodes = []
    for pipeline in doc.get("pipelines") or []:
        for node in pipeline.get("nodes") or []:
            is_exec = node.get("type", "execution_node") == "execution_node"
            if is_exec and node.get("op") not in NODE_KINDS:
                nodes.append((node["id"], node.get("op")))
    return nodes


def _zip_dir(folder: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, f"{folder.name}/{file.relative_to(folder).as_posix()}")
    return out.getvalue()


def _copy_pipeline_folder(path: Path, tmp_path: Path, up: int = 0) -> tuple[Path, str]:
    """The .pipeline's folder (or the folder `up` levels above it), without the other .pipeline
    files in it; returns the copy and the .pipeline's path inside it."""
    root = path.parents[up]
    target = tmp_path / root.name
    shutil.copytree(root, target, ignore=shutil.ignore_patterns("*.pipeline"))
    inner = path.relative_to(root).as_posix()
    shutil.copy(path, target / inner)
    return target, inner


RUNNABLE = [rel for rel in CORPUS if _runnable(rel)] or ["(corpora absent)"]


@pytest.mark.parametrize("rel", CORPUS)
def test_corpus_pipeline_as_single_file(rel: str) -> None:
    path = _load(rel)
    data = path.read_bytes()
    if rel in INVALID:
        with pytest.raises(PipelineImportError) as info:
            import_upload(path.name, data)
        message = str(info.value)
        for words in INVALID[rel]:
            assert words in message, message
        assert path.name in message
        return
    foreign = _foreign_nodes(path)
    if foreign:
        # Airflow operators and catalog components: refused, naming each node and its op.
        with pytest.raises(PipelineImportError) as info:
            import_upload(path.name, data)
        message = str(info.value)
        for node_id, op in foreign[:3]:
            assert node_id in message and repr(op) in message, message
        assert "cannot run" in message or "unknown node op" in message
        return
    result = import_upload(path.name, data)
    spec = result.spec
    assert spec.nodes, rel
    notes = " ".join(result.notes)
    if rel in IMAGELESS:
        assert f"in {DEFAULT_RUNTIME_IMAGE}, the app's default" in notes, notes
        for label in IMAGELESS[rel]:
            assert label in notes, notes
    else:
        assert "no runtime image" not in notes, notes
    assert all(node.runtime_image for node in spec.nodes)
    assert result.files == {path.name: data}
    assert result.missing_files == sorted({n.filename for n in spec.nodes})
    assert 0 <= (spec.source_version or 0) <= 8
    ids = {n.id for n in spec.nodes}
    for node in spec.nodes:
        assert node.kind in ("notebook", "python", "r")
        assert node.runtime_image and node.filename
        assert set(node.depends_on) <= ids
        assert node.id not in node.depends_on


@pytest.mark.parametrize("rel", RUNNABLE)
def test_corpus_pipeline_as_zip_lacking_a_file(rel: str, tmp_path: Path) -> None:
    path = _load(rel)
    spec = import_upload(path.name, path.read_bytes()).spec
    folder, _ = _copy_pipeline_folder(path, tmp_path)
    present = [n.filename for n in spec.nodes if (folder / n.filename).is_file()]
    if present:
        (folder / present[0]).unlink()
        missing = present[0]
    else:
        missing = spec.nodes[0].filename  # the corpus itself lacks it
    with pytest.raises(PipelineImportError) as info:
        import_upload(f"{folder.name}.zip", _zip_dir(folder))
    message = str(info.value)
    assert f"file {missing!r} is missing from the zip" in message
    node = next(n for n in spec.nodes if n.filename == missing)
    assert node.id in message


@pytest.mark.parametrize("rel", RUNNABLE)
def test_corpus_pipeline_as_complete_zip(rel: str, tmp_path: Path) -> None:
    path = _load(rel)
    single = import_upload(path.name, path.read_bytes())
    # Files named "../x" sit beside the pipeline's folder: zip the folder above it.
    up = 1 if any("outside the pipeline's folder" in n for n in single.notes) else 0
    folder, inner = _copy_pipeline_folder(path, tmp_path, up)
    # Where the corpus left a file out (Python scripts, old formats), put a stand-in.
    added = []
    for filename, deps in _raw_files(path):
        node_dir = posixpath.dirname(
            posixpath.normpath(posixpath.join(posixpath.dirname(inner), filename))
        )
        wanted = [posixpath.join(posixpath.dirname(inner), filename)]
        wanted += [posixpath.join(node_dir, d.replace("*", "x").replace("?", "x")) for d in deps]
        for name in (posixpath.normpath(w) for w in wanted):
            target = folder / name
            if not name.startswith("../") and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("{}")
                added.append(name)
    result = import_upload(f"{folder.name}.zip", _zip_dir(folder))
    assert inner in result.files
    assert all(n.filename in result.files for n in result.spec.nodes)
    assert set(result.files) >= set(added)
    assert result.missing_files == []
    assert [n.id for n in result.spec.nodes] == [n.id for n in single.spec.nodes]


def _raw_files(path: Path) -> list[tuple[str, list[str]]]:
    """(filename, dependencies) of each node, as written in the file."""
    out = []
    for pipeline in json.loads(path.read_text()).get("pipelines") or []:
        for node in pipeline.get("nodes") or []:
            app = node.get("app_data") or {}
            props = app.get("component_parameters") or app
            if props.get("filename"):
                deps = [d for d in props.get("dependencies") or [] if isinstance(d, str) and d]
                out.append((props["filename"], deps))
    return out


# -- the rules one by one, on small documents ---------------------------------------------------


def _node(nid: str, filename: str, *, op: str = "execute-notebook-node", links=(), **props):
    params = {"filename": filename, "runtime_image": "python:3.11", **props}
    return {
        "id": nid,
        "type": "execution_node",
        "op": op,
        "app_data": {"label": nid.upper(), "component_parameters": params},
        "inputs": [{"id": "inPort", "links": [{"node_id_ref": n} for n in links]}],
        "outputs": [{"id": "outPort"}],
    }


def _doc(nodes: list[dict[str, Any]], *, version: Any = 8, **properties: Any) -> dict[str, Any]:
    return {
        "doc_type": "pipeline",
        "version": "3.0",
        "id": "doc",
        "primary_pipeline": "p",
        "pipelines": [
            {
                "id": "p",
                "nodes": nodes,
                "app_data": {"version": version, "properties": {"name": "demo", **properties}},
                "runtime_ref": "",
            }
        ],
    }


def _import(doc: dict[str, Any], name: str = "demo.pipeline"):
    return import_upload(name, json.dumps(doc).encode())


def _refused(doc: dict[str, Any] | bytes, name: str = "demo.pipeline") -> str:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    with pytest.raises(PipelineImportError) as info:
        import_upload(name, data)
    return str(info.value)


def test_node_kinds_come_from_the_file() -> None:
    doc = _doc(
        [
            _node("a", "a.ipynb"),
            _node("b", "b.py", op="execute-python-node", links=["a"]),
            _node("c", "c.R", op="execute-r-node", links=["a"]),
            _node("d", "old.py", links=["b", "c"]),  # old files: notebook op, .py file
        ]
    )
    spec = _import(doc).spec
    assert [(n.kind, n.depends_on) for n in spec.nodes] == [
        ("notebook", []),
        ("python", ["a"]),
        ("r", ["a"]),
        ("python", ["b", "c"]),
    ]


def test_v8_properties_and_defaults() -> None:
    node = _node(
        "a",
        "a.ipynb",
        cpu=1.5,
        cpu_limit="2",
        memory=4,
        memory_limit=8,
        gpu=1,
        env_vars=[{"env_var": "A", "value": "node"}, {"env_var": "", "value": ""}],
        dependencies=["lib/*.py", ""],
        include_subdirectories=True,
        outputs=["out.csv"],
        pipeline_parameters=["rate"],
        kubernetes_secrets=[{"env_var": "PW", "name": "db-secret", "key": "password"}],
        mounted_volumes=[{"path": "/data", "pvc_name": "data-pvc", "read_only": True}],
        kubernetes_tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        kubernetes_pod_labels=[{"key": "team", "value": "ml"}],
        kubernetes_pod_annotations=[{"key": "note", "value": "any text"}],
        kubernetes_shared_mem_size={"size": 0.5, "units": "G"},
    )
    del node["app_data"]["component_parameters"]["runtime_image"]
    doc = _doc(
        [node],
        pipeline_defaults={
            "runtime_image": "docker.io/amancevice/pandas:1.1.1",
            "env_vars": [{"env_var": "A", "value": "default"}, {"env_var": "B", "value": "b"}],
            "kubernetes_pod_labels": [
                {"key": "team", "value": "data"},
                {"key": "env", "value": "x"},
            ],
        },
        pipeline_parameters=[
            {"name": "rate", "default_value": {"type": "Float", "value": "0.5"}, "required": True},
            {"name": "flag", "default_value": {"type": "Bool", "value": "true"}},
            {"name": "n", "default_value": {"type": "Integer", "value": 3}},
        ],
    )
    result = _import(doc)
    (n,) = result.spec.nodes
    assert n.runtime_image == "docker.io/amancevice/pandas:1.1.1"
    assert (n.cpu, n.cpu_limit, n.memory_gb, n.memory_limit_gb, n.gpu) == (1.5, 2.0, 4.0, 8.0, 1)
    assert n.env == {"A": "node", "B": "b"}
    assert n.dependencies == ["lib/*.py"] and n.include_subdirectories
    assert n.outputs == ["out.csv"] and n.parameters == ["rate"]
    assert [(s.env_var, s.name, s.key) for s in n.secrets] == [("PW", "db-secret", "password")]
    assert [(v.path, v.pvc_name, v.read_only) for v in n.volumes] == [("/data", "data-pvc", True)]
    assert n.tolerations == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert n.pod_labels == {"team": "ml", "env": "x"}
    assert n.pod_annotations == {"note": "any text"}
    assert n.shm_size == "0.5G"
    assert [(p["name"], p["type"], p["default"], p["required"]) for p in result.parameters] == [
        ("rate", "Float", 0.5, True),
        ("flag", "Bool", True, False),
        ("n", "Integer", 3, False),
    ]


def test_v7_string_forms() -> None:
    node = _node(
        "a",
        "a.ipynb",
        env_vars=["A=1", "B=x=y", ""],
        kubernetes_secrets=["PW=db-secret:password"],
        mounted_volumes=["/data=data-pvc"],
        kubernetes_tolerations=["t1=gpu:Equal:yes:NoExecute"],
        kubernetes_pod_annotations=["note=hello"],
    )
    (n,) = _import(_doc([node], version=7)).spec.nodes
    assert n.env == {"A": "1", "B": "x=y"}
    assert [(s.env_var, s.name, s.key) for s in n.secrets] == [("PW", "db-secret", "password")]
    assert [(v.path, v.pvc_name) for v in n.volumes] == [("/data", "data-pvc")]
    assert n.tolerations == [
        {"key": "gpu", "operator": "Equal", "value": "yes", "effect": "NoExecute"}
    ]
    assert n.pod_annotations == {"note": "hello"}


def test_v3_properties_sit_in_app_data() -> None:
    node = {
        "id": "a",
        "type": "execution_node",
        "op": "execute-notebook-node",
        "app_data": {
            "filename": "a.ipynb",
            "runtime_image": "python:3.11",
            "env_vars": ["X=1"],
            "ui_data": {"label": "Load"},
        },
    }
    doc = _doc([node], version=3)
    (n,) = _import(doc).spec.nodes
    assert (n.label, n.env, n.runtime_image) == ("Load", {"X": "1"}, "python:3.11")
    del doc["pipelines"][0]["app_data"]["version"]  # format "none": before versions existed
    assert _import(doc).spec.source_version == 0


def test_unknown_format_version() -> None:
    assert "format version 9 is unknown" in _refused(_doc([_node("a", "a.ipynb")], version=9))
    assert "format version 'x' is unknown" in _refused(_doc([_node("a", "a.ipynb")], version="x"))


def test_link_to_missing_node() -> None:
    message = _refused(_doc([_node("a", "a.ipynb", links=["ghost"])]))
    assert "node \"A\" (id a) links to node id 'ghost'" in message


def test_cycle_names_the_nodes() -> None:
    doc = _doc(
        [
            _node("a", "a.ipynb", links=["c"]),
            _node("b", "b.ipynb", links=["a"]),
            _node("c", "c.ipynb", links=["b"]),
        ]
    )
    message = _refused(doc)
    assert "cycle" in message and '"A"' in message and '"B"' in message and '"C"' in message


def test_bad_values_are_named() -> None:
    doc = _doc(
        [
            _node("a", "a.ipynb", cpu="lots"),
            _node("b", "b.ipynb", gpu=1.5),
            _node("c", "c.ipynb", cpu=4, cpu_limit=2),
            _node("d", "d.txt"),
            _node("e", "/etc/passwd.py"),
            _node("f", "f.ipynb", env_vars=["1BAD=x"]),
            _node("g", "g.ipynb", pipeline_parameters=["nope"]),
            _node("h", "h.ipynb", runtime_image="Bad Image"),
            _node("i", "i.ipynb", memory=0),
        ]
    )
    message = _refused(doc)
    for words in (
        "cpu must be a number, got 'lots'",
        "gpu must be a whole number",
        "cpu_limit 2 is below the request cpu 4",
        "'d.txt' is not a notebook",
        "'/etc/passwd.py' is an absolute path",
        "'1BAD' is not a valid environment variable name",
        "pipeline parameter 'nope', which is not declared",
        "runtime_image 'Bad Image' is not a valid image name",
    ):
        assert words in message, message
    assert "9 problems" in message and "and 1 more" in message


def test_unsupported_ops_are_named() -> None:
    doc = _doc([_node("a", "a.ipynb"), _node("k", "", op="my-catalog:1234")])
    assert "node \"K\" (id k): op 'my-catalog:1234'" in _refused(doc)
    assert "unknown node op 'frobnicate'" in _refused(
        _doc([_node("z", "z.ipynb", op="frobnicate")])
    )


def test_supernodes_are_flattened() -> None:
    doc = _doc([_node("a", "a.ipynb")])
    inner = [
        {"id": "bin", "type": "binding", "outputs": [{"id": "o"}]},
        _node("b", "b.ipynb", links=["bin"]),
        {"id": "bout", "type": "binding", "inputs": [{"id": "i", "links": [{"node_id_ref": "b"}]}]},
    ]
    doc["pipelines"].append({"id": "sub", "nodes": inner, "app_data": {}})
    doc["pipelines"][0]["nodes"] += [
        {
            "id": "s",
            "type": "super_node",
            "subflow_ref": {"pipeline_id_ref": "sub"},
            "inputs": [{"id": "in", "subflow_node_ref": "bin", "links": [{"node_id_ref": "a"}]}],
            "outputs": [{"id": "out", "subflow_node_ref": "bout"}],
        },
        _node("c", "c.ipynb", links=["s"]),
    ]
    spec = _import(doc).spec
    assert {n.id: n.depends_on for n in spec.nodes} == {"a": [], "b": ["a"], "c": ["b"]}


def test_malformed_json_names_the_line() -> None:
    message = _refused(b'{\n  "pipelines": [\n    {"id": 1,}\n  ]\n}')
    assert "not valid JSON" in message and "line 3" in message


# -- zips ---------------------------------------------------------------------------------------


def _zip(entries: dict[str, bytes | str], **kwargs: Any) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, body in entries.items():
            archive.writestr(name, body, **kwargs)
    return out.getvalue()


def _pipeline_json(*nodes: dict[str, Any]) -> str:
    return json.dumps(_doc(list(nodes)))


def test_zip_with_files_in_subfolders() -> None:
    pipeline = _pipeline_json(
        _node("a", "nb/a.ipynb", dependencies=["data/*.csv"], outputs=["out/x.csv"]),
        _node("b", "../scripts/b.py", links=["a"], dependencies=["../pipelines/nb/out/x.csv"]),
    )
    data = _zip(
        {
            "proj/pipelines/demo.pipeline": pipeline,
            "proj/pipelines/nb/a.ipynb": "{}",
            "proj/pipelines/nb/data/1.csv": "x",
            "proj/scripts/b.py": "print(1)",
            "proj/.DS_Store": "junk",
            "__MACOSX/._x": "junk",
        }
    )
    result = import_upload("proj.zip", data)
    assert [n.filename for n in result.spec.nodes] == ["pipelines/nb/a.ipynb", "scripts/b.py"]
    assert set(result.files) == {
        "pipelines/demo.pipeline",
        "pipelines/nb/a.ipynb",
        "pipelines/nb/data/1.csv",
        "scripts/b.py",
    }


def test_zip_missing_dependency_is_named() -> None:
    data = _zip(
        {
            "demo.pipeline": _pipeline_json(_node("a", "a.ipynb", dependencies=["cfg.yaml"])),
            "a.ipynb": "{}",
        }
    )
    assert "dependency 'cfg.yaml' matches no file in the zip" in _refused(data, "x.zip")


def test_zip_lacking_only_files_raises_missing_files_naming_each() -> None:
    data = _zip(
        {
            "demo/demo.pipeline": _pipeline_json(
                _node("a", "a.ipynb", dependencies=["secrets/creds.json", "data/*.csv"]),
                _node("b", "nb/b.py", op="execute-python-node", links=["a"]),
            ),
            "demo/a.ipynb": "{}",
        }
    )
    with pytest.raises(MissingFilesError) as info:
        import_upload("demo.zip", data)
    assert info.value.missing == ["data/*.csv", "nb/b.py", "secrets/creds.json"]
    message = str(info.value)
    assert "file 'nb/b.py' is missing from the zip" in message
    assert "dependency 'secrets/creds.json' matches no file in the zip" in message

    result = import_upload("demo.zip", data, allow_missing=True)
    assert result.missing_files == ["data/*.csv", "nb/b.py", "secrets/creds.json"]
    assert set(result.files) == {"demo.pipeline", "a.ipynb"}
    assert [n.id for n in result.spec.nodes] == ["a", "b"]
    assert any(note.startswith(MISSING_FILES_NOTE) for note in result.notes)
    assert result.spec_dict()["metadata"]["missing_files"] == result.missing_files


def test_zip_with_missing_files_and_other_problems_is_an_ordinary_refusal() -> None:
    data = _zip(
        {"demo.pipeline": _pipeline_json(_node("a", "a.ipynb"), _node("b", "b.ipynb", cpu="x"))}
    )
    with pytest.raises(PipelineImportError) as info:
        import_upload("demo.zip", data)
    assert not isinstance(info.value, MissingFilesError)
    assert "'a.ipynb' is missing from the zip" in str(info.value)
    # "Upload anyway" excuses the missing files only.
    with pytest.raises(PipelineImportError) as info:
        import_upload("demo.zip", data, allow_missing=True)
    assert "cpu" in str(info.value) and "a.ipynb" not in str(info.value)


@pytest.mark.parametrize("entry", ["../evil.py", "/etc/evil.py", "a/../../evil.py", "C:/evil.py"])
def test_zip_path_traversal_is_refused(entry: str) -> None:
    data = _zip(
        {"demo.pipeline": _pipeline_json(_node("a", "a.ipynb")), "a.ipynb": "{}", entry: "x"}
    )
    message = _refused(data, "x.zip")
    assert entry in message and ("outside" in message or "absolute" in message)


def test_zip_node_file_outside_the_zip_is_refused() -> None:
    data = _zip({"demo.pipeline": _pipeline_json(_node("a", "../a.ipynb"))})
    assert "file '../a.ipynb' lies outside the zip's folder" in _refused(data, "x.zip")


def test_zip_several_pipelines_are_named() -> None:
    data = _zip({"a.pipeline": "{}", "sub/b.pipeline": "{}"})
    message = _refused(data, "x.zip")
    assert (
        "2 .pipeline files" in message and "a.pipeline" in message and "sub/b.pipeline" in message
    )
    assert "holds no .pipeline file" in _refused(_zip({"a.ipynb": "{}"}), "x.zip")


def test_zip_bomb_by_ratio(settings) -> None:
    data = _zip(
        {
            "demo.pipeline": _pipeline_json(_node("a", "a.ipynb")),
            "a.ipynb": "{}",
            "zeros.bin": b"\0" * (8 * 1024 * 1024),
        }
    )
    assert len(data) < 100_000
    assert "zip bomb" in _refused(data, "x.zip")


def test_zip_bomb_by_total_size(settings) -> None:
    settings.YDP_MAX_UNZIPPED_BYTES = 100_000
    body = bytes(range(256)) * 300  # 76 KB of poorly compressible bytes, ratio well under 200
    data = _zip(
        {
            "demo.pipeline": _pipeline_json(_node("a", "a.ipynb")),
            "a.ipynb": "{}",
            "1.bin": body,
            "2.bin": body,
        }
    )
    assert "inflate to more than" in _refused(data, "x.zip")


def test_zip_entry_count_limit(settings) -> None:
    settings.YDP_MAX_ZIP_ENTRIES = 10
    entries = {f"f{i}.txt": "x" for i in range(11)}
    assert "11 entries" in _refused(_zip(entries), "x.zip")


def test_not_a_zip_and_too_big(settings) -> None:
    assert "not a valid zip file" in _refused(b"PK\x03\x04 nope", "x.zip")
    settings.YDP_MAX_UPLOAD_BYTES = 1000
    message = _refused(b"x" * 1001, "big.pipeline")
    assert "over the" in message and "upload limit" in message


def test_unknown_file_type() -> None:
    assert "unsupported file type" in _refused(b"print(1)", "pipeline.py")


def test_the_corpus_schema_accepts_what_we_build() -> None:
    """Our small documents are real pipeline-flow v3 documents (schema used in tests only)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema_dir = shared_path("corpora", "elyra-schema")
    schemas = {p.name: json.loads(p.read_text()) for p in schema_dir.rglob("*.json")}
    main = next(
        (s for n, s in schemas.items() if "pipeline-flow-v3-schema" in n),
        None,
    )
    if main is None:
        pytest.skip("pipeline-flow v3 schema not found")
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    registry = Registry().with_resources(
        (s.get("id", n), DRAFT4.create_resource(s)) for n, s in schemas.items()
    )
    doc = copy.deepcopy(_doc([_node("a", "a.ipynb"), _node("b", "b.py", links=["a"])]))
    jsonschema.Draft4Validator(main, registry=registry).validate(doc)


def test_zip_bomb_with_a_lying_header() -> None:
    """The headers claim a tiny file: reading stops at the claimed size and the CRC fails, so
    the bomb never inflates."""
    data = bytearray(_zip({"zeros.bin": b"\0" * (4 * 1024 * 1024)}))
    real = (4 * 1024 * 1024).to_bytes(4, "little")
    # Rewrite the uncompressed size in the local header and the central directory to 10.
    data = bytes(data).replace(real, (10).to_bytes(4, "little"))
    assert "cannot read entry 'zeros.bin' (Bad CRC-32" in _refused(data, "x.zip")
