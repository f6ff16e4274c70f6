"""The Kubernetes manifests in argo/ validate offline against Kubernetes' JSON schemas (the
kubernetes-validate package ships them) and Argo's (../shared/argo), and say what a platform
team checks first: no wildcard host, non-root read-only pods with limits, probes, one beat."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import shared_path

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "argo").glob("*.yaml"))
K8S_VERSION = "1.30.0"  # the oldest Kubernetes that Argo Workflows v4 supports, give or take
IMAGE = "registry.example.com/ydpipelines:0.1.0"


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, doc)
        for path in MANIFESTS
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def find(kind: str, name: str) -> dict[str, Any]:
    [doc] = [d for _, d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def argo_validator_module():
    path = shared_path("tools", "validate_argo.py")
    spec = importlib.util.spec_from_file_location("validate_argo", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_kubernetes_object_validates_offline():
    """In a network namespace of its own: the schemas must come with the package."""
    if not shutil.which("unshare"):
        pytest.skip("unshare is absent (util-linux): cannot cut the network off")
    code = (
        "import sys, yaml, kubernetes_validate as kv\n"
        "bad = 0\n"
        "for path in sys.argv[2:]:\n"
        "    for doc in yaml.safe_load_all(open(path)):\n"
        "        if not doc or doc['apiVersion'].startswith('argoproj.io/'):\n"
        "            continue\n"
        "        try:\n"
        "            kv.validate(doc, sys.argv[1], strict=True)\n"
        "        except Exception as exc:\n"
        "            bad += 1\n"
        "            print(path, doc['kind'], doc['metadata']['name'], exc)\n"
        "print('checked, invalid:', bad)\n"
    )
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", code, K8S_VERSION, *map(str, MANIFESTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0 and "unshare failed" in done.stderr:
        pytest.skip(f"cannot make a network namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "checked, invalid: 0", done.stdout


def test_the_validator_catches_a_broken_manifest():
    import kubernetes_validate

    web = find("Deployment", "ydpipelines-web")
    broken = json.loads(json.dumps(web))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_argo_objects_validate_against_argo_schemas():
    argo = argo_validator_module()
    workflows = [(n, d) for n, d in documents() if d["apiVersion"].startswith("argoproj.io/")]
    assert workflows, "argo/ holds at least the smoke workflow"
    for name, doc in workflows:
        errors = list(argo.validator(doc["kind"]).iter_errors(doc))
        assert not errors, f"{name}: {errors[0].message}"
    # The artifact repository ConfigMap's value is an Argo ArtifactRepository.
    schema = json.loads(shared_path("argo", "schema.json").read_text())
    repo = find("ConfigMap", "artifact-repositories")
    key = repo["metadata"]["annotations"]["workflows.argoproj.io/default-artifact-repository"]
    ref = {"$ref": "#/definitions/io.argoproj.workflow.v1alpha1.ArtifactRepository"}
    validator = jsonschema.Draft7Validator({**ref, "definitions": argo._fix(schema["definitions"])})
    errors = list(validator.iter_errors(yaml.safe_load(repo["data"][key])))
    assert not errors, errors[0].message


def pod_specs() -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]
        for _, d in documents()
        if d["kind"] in ("Deployment", "Job")
    }


def test_pods_run_non_root_read_only_with_limits_from_one_image():
    specs = pod_specs()
    assert set(specs) == {
        "ydpipelines-web",
        "ydpipelines-worker",
        "ydpipelines-beat",
        "ydpipelines-migrate",
    }
    for name, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        for container in spec["containers"]:
            assert container["image"] == IMAGE, name
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["limits"]["memory"], name
            assert container["resources"]["requests"]["cpu"], name
            # The read-only root leaves the data folder writable (settings.DATA_DIR).
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/var/lib/ydpipelines" in mounts, name


def test_web_probes_and_the_processes_commands():
    web = pod_specs()["ydpipelines-web"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["command"][0] == "gunicorn"
    config = find("ConfigMap", "ydpipelines-env")["data"]
    public = config["ALLOWED_HOSTS"].split(",")[0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        headers = {h["name"]: h["value"] for h in web[probe]["httpGet"]["httpHeaders"]}
        assert headers["Host"] == public, probe  # else ALLOWED_HOSTS answers 400
    worker = pod_specs()["ydpipelines-worker"]["containers"][0]["command"]
    assert worker[:4] == ["celery", "-A", "ydpipelines", "worker"]
    beat = find("Deployment", "ydpipelines-beat")
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"
    assert beat["spec"]["template"]["spec"]["containers"][0]["command"][3] == "beat"
    migrate = pod_specs()["ydpipelines-migrate"]["containers"][0]["command"]
    assert migrate == ["python", "manage.py", "migrate", "--noinput"]


def test_hosts_are_named_and_every_setting_is_one_the_app_reads():
    config = find("ConfigMap", "ydpipelines-env")["data"]
    assert "*" not in config["ALLOWED_HOSTS"]
    assert config["CSRF_TRUSTED_ORIGINS"].startswith("https://")
    assert config["DEBUG"] == "false"
    settings_source = (ROOT / "ydpipelines" / "settings.py").read_text()
    secret = find("Secret", "ydpipelines-secrets")["stringData"]
    assert set(secret) == {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ARGO_TOKEN"}
    for name in [*config, *secret]:
        assert f'"{name}"' in settings_source, f"{name} is not a setting the app reads"
    # A template: placeholders only, nothing that works as a secret.
    for key, value in secret.items():
        assert "CHANGE-ME" in value or ".example." in value, key


def test_the_app_may_drive_argo_and_the_semaphores():
    role = find("Role", "ydpipelines-app")
    rules = {(g, r): set(rule["verbs"]) for rule in role["rules"]
             for g in rule["apiGroups"] for r in rule["resources"]}  # fmt: skip
    needed = {"create", "get", "list", "watch", "update", "patch", "delete"}
    for resource in ("workflows", "cronworkflows", "workflowtemplates"):
        assert needed <= rules[("argoproj.io", resource)], resource
    assert {"get", "update", "patch"} <= rules[("", "configmaps")]
    semaphores = [r for r in role["rules"] if "configmaps" in r["resources"]]
    assert semaphores[0]["resourceNames"] == ["ydpipelines-semaphores"]  # not every ConfigMap
    binding = find("RoleBinding", "ydpipelines-app")
    assert binding["subjects"][0]["name"] == "ydpipelines-app"
    for _, pod in pod_specs().items():
        assert pod["serviceAccountName"] == "ydpipelines-app"


def test_every_object_lives_in_the_namespace():
    for name, doc in documents():
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "ydpipelines", name
            assert re.fullmatch(r"[a-z0-9.-]+", doc["metadata"].get("name", "x")), name
