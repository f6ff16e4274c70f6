"""``python -m ydpipelines.localargo.conformance DIR``: run every Argo manifest in DIR against a
fresh engine and say, one line a file, whether it RAN as documented, was REFUSED as
unsupported (naming the field), ran WRONG, HUNG (timed out) or CRASHED the runner. Ends with
the count of each and the refused fields; exits 1 when any file ran wrong, hung or crashed.

What "documented" means comes from each example: most say (in comments, or by their exit
codes) that they succeed; the exceptions are listed in EXPECTED with the reason. With
``--expect FILE`` (YAML: path relative to DIR -> phase, nodes, ...) a file is also checked
for what Argo's own e2e tests assert about it: node phases and messages, outputs, steps that
must not run, log lines (see ``check_expectations``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import yaml

from .engine import Engine
from .server import make_server

# Examples whose documented outcome is not "Succeeded", and why (from the example itself).
EXPECTED: dict[str, tuple[tuple[str, ...], str]] = {
    "exit-handlers.yaml": (("Failed",), "its main step runs `exit 1` to show the failure handler"),
    "forever.yaml": (("Running",), "it sleeps forever by design"),
    "synchronization-mutex-tmpl-level.yaml": (
        ("Succeeded", "Running"),
        "ten steps serialised by two mutexes (20 s and 50 s each): minutes by design",
    ),
    "synchronization-tmpl-level.yaml": (
        ("Succeeded", "Running"),
        "five 10 s steps behind a semaphore: longer than the bound by design",
    ),
    "synchronization-db-mutex-tmpl-level.yaml": (
        ("Succeeded", "Running"),
        "steps serialised by mutex `test`: minutes by design",
    ),
    "synchronization-db-mutex-wf-level.yaml": (
        ("Succeeded", "Running"),
        "waits for mutex `test`, held by the other mutex examples",
    ),
    "pod-gc-strategy-with-label-selector.yaml": (("Failed",), "its `fail` step runs `exit 1`"),
    "timeouts-workflow.yaml": (("Failed",), "its 30 s workflow deadline stops day-long sleeps"),
    "step-level-timeout.yaml": (
        ("Failed",),
        "its 30 s sleeps pass their 10 s template timeout: Argo fails each pod for its deadline, "
        "and sleep1 continues only on error",
    ),
    "resubmit.yaml": (("Succeeded", "Failed"), "its steps fail at random by design"),
    "retry-on-error.yaml": (("Succeeded", "Failed"), "random exit codes, up to 2 retries"),
    "retry-conditional.yaml": (("Succeeded", "Failed"), "random exit codes; retried by expression"),
    "custom-metrics.yaml": (("Succeeded", "Failed"), "its random-fail step fails at random"),
    "retry-script.yaml": (("Succeeded", "Failed"), "random exit codes, up to 10 retries"),
    "retry-with-steps.yaml": (("Succeeded", "Failed"), "random failures, up to 10 retries"),
    "parallelism-template-limit.yaml": (
        ("Succeeded", "Running"),
        "ten 10 s sleeps two at a time; its items say it takes at least 60 seconds",
    ),
    "loop-sequence-many-long-pods.yaml": (
        ("Succeeded", "Running"),
        "10,000 steps of 600 s each (a load test): days by design",
    ),
    "serviceaccount-insufficient-permissions.yaml": (
        ("Error", "Succeeded"),
        "errors in Argo's e2e cluster, whose RBAC denies account github.com; "
        "the engine has no accounts or RBAC, so it runs",
    ),
    "exit-handler-slack.yaml": (
        ("Succeeded", "Failed"),
        "its exit handler curls hooks.slack.com: fails where there is no internet",
    ),
}
FAIL_LABEL = "workflows.argoproj.io/no-test"
# "To run this example, first create the secret by running: kubectl create secret generic ..."
SECRET_SETUP = re.compile(r"kubectl create secret generic ([a-z0-9.-]+)((?: --from-literal=\S+)+)")
SETTLE = ("Succeeded", "Failed", "Error")
# verdicts, worst last: a file takes the worst verdict of its documents
VERDICTS = ("RAN", "EXCLUDED", "REFUSED", "WRONG", "HUNG", "CRASHED")
Verdict = tuple[str, str]


class Runner:
    def __init__(
        self, base: str, timeout: float, expect: dict[str, dict[str, Any]] | None = None
    ) -> None:
        self.base = base
        self.timeout = timeout
        self.expect = expect or {}
        self.http = requests.Session()
        # templates the engine refused at setup: a workflow using one is refused through it
        self.refused_templates: dict[str, str] = {}
        self._name_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.http.post(self.base + path, json=body, timeout=60)

    def setup(self, docs: list[dict[str, Any]]) -> None:
        """ConfigMaps, WorkflowTemplates and semaphore limits the examples refer to. A
        template name given twice keeps its first file (Argo's tests create one at a time)."""
        for doc in docs:
            kind = doc.get("kind")
            if kind == "ConfigMap":
                name = doc["metadata"]["name"]
                self.http.put(
                    f"{self.base}/api/v1/localargo/configmaps/default/{name}",
                    json={"data": doc.get("data") or {}},
                    timeout=30,
                )
            elif kind in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
                url = "/api/v1/" + (
                    "workflow-templates/default"
                    if kind == "WorkflowTemplate"
                    else "cluster-workflow-templates"
                )
                resp = self.post(url, {"template": doc})
                name = (doc.get("metadata") or {}).get("name")
                if resp.status_code not in (200, 409) and isinstance(name, str):
                    self.refused_templates[name] = self.refusal(resp)[1]
            for ref in _semaphore_refs(doc):
                self.http.put(
                    f"{self.base}/api/v1/localargo/configmaps/default/{ref['name']}",
                    json={"data": {ref["key"]: "2"}},
                    timeout=30,
                )

    def run_file(self, path: Path, docs: list[dict[str, Any]], root: Path) -> Verdict:
        rel = path.relative_to(root).as_posix()
        verdicts = [self.run_doc(path, doc, self.expect.get(rel)) for doc in docs]
        worst = max((v[0] for v in verdicts), key=VERDICTS.index)
        return worst, f"{worst} {rel}: " + "; ".join(v[1] for v in verdicts)

    def run_doc(self, path: Path, doc: dict[str, Any], expect: dict | None = None) -> Verdict:
        if expect and expect.get("exclude"):
            return "EXCLUDED", f"excluded: {expect['exclude']}"
        name = (doc.get("metadata") or {}).get("name")
        if doc.get("kind", "Workflow") == "Workflow" and isinstance(name, str):
            # Argo's tests run one at a time and delete what they made: files sharing a fixed
            # name (testdata/wellformed) take turns, and the previous one is deleted first
            with self._locks_lock:
                lock = self._name_locks.setdefault(name, threading.Lock())
            with lock:
                self.http.delete(f"{self.base}/api/v1/workflows/default/{name}", timeout=30)
                return self._run_doc(path, doc, expect)
        return self._run_doc(path, doc, expect)

    def _run_doc(self, path: Path, doc: dict[str, Any], expect: dict | None = None) -> Verdict:
        # Argo's fixture Workflow("@file") reads a file without `kind` as a Workflow
        kind = doc.get("kind") or ("Workflow" if "spec" in doc else None)
        if kind in ("WorkflowTemplate", "ClusterWorkflowTemplate", "ConfigMap"):
            return "RAN", f"{kind} loaded"
        if kind == "CronWorkflow":
            return self.run_cron(path, doc, expect)
        if kind != "Workflow":
            return "REFUSED", f"refused as unsupported: kind ({kind} is not run by this engine)"
        resp = self.post("/api/v1/workflows/default", {"workflow": doc})
        return self.follow(path, doc, resp, expect)

    def run_cron(self, path: Path, doc: dict[str, Any], expect: dict | None = None) -> Verdict:
        resp = self.post("/api/v1/cron-workflows/default", {"cronWorkflow": doc})
        if expect and expect.get("rejected"):
            return self.follow(path, doc, resp, expect)
        if resp.status_code != 200:
            return self.refusal(resp)
        name = resp.json()["metadata"]["name"]
        self.http.put(
            f"{self.base}/api/v1/cron-workflows/default/{name}/suspend", json={}, timeout=30
        )
        sub = self.post(
            "/api/v1/workflows/default/submit",
            {"resourceKind": "CronWorkflow", "resourceName": name},
        )
        verdict, text = self.follow(path, doc, sub, expect)
        return verdict, f"cron accepted, run now: {text}"

    def resume_if_suspended(self, name: str, wf: dict[str, Any]) -> None:
        """Suspend examples wait for a person to approve; resume them the way a user would:
        a suspend node whose outputs must be supplied gets them first (`argo node set`), as
        Argo refuses to resume it without them."""
        if not _suspended(wf):
            return
        url = f"{self.base}/api/v1/workflows/default/{name}"
        resp = self.http.put(f"{url}/resume", json={}, timeout=30)
        missing = re.findall(r"raw output parameter '([^']+)' has not been set", resp.text)
        if resp.status_code == 200 or not missing:
            return
        for node in (wf.get("status") or {}).get("nodes", {}).values():
            if node.get("type") == "Suspend" and node.get("phase") == "Running":
                body = {
                    "nodeFieldSelector": f"displayName={node['displayName']}",
                    "outputParameters": json.dumps({p: "supplied by a person" for p in missing}),
                }
                self.http.put(f"{url}/set", json=body, timeout=30)
        self.http.put(f"{url}/resume", json={}, timeout=30)

    def via_refused_template(self, resp: requests.Response) -> str:
        """``... "NAME" not found`` for a template refused at setup: the refusal is that one."""
        with contextlib.suppress(ValueError, AttributeError):
            found = re.search(r'"([^"]+)" not found', resp.json().get("message", ""))
            if found and found.group(1) in self.refused_templates:
                why = self.refused_templates[found.group(1)]
                return f"{why} (in WorkflowTemplate {found.group(1)}, which it uses)"
        return ""

    def act(self, name: str, wf: dict[str, Any], expect: dict[str, Any] | None) -> bool:
        """What the e2e test does to the running workflow (``action``: ``stop`` or
        ``terminate``, once the node ``after`` runs, or reached ``after_phase``; without
        ``after`` once the workflow runs). True once done."""
        action = (expect or {}).get("action")
        if not action:
            return True
        after = expect.get("after")
        phases = [expect["after_phase"]] if expect.get("after_phase") else ["Running", *SETTLE]
        nodes = (wf.get("status") or {}).get("nodes") or {}
        started = any(
            n.get("displayName") == after and n.get("phase") in phases for n in nodes.values()
        )
        if (wf.get("status") or {}).get("phase") == "Running" and (after is None or started):
            self.http.put(
                f"{self.base}/api/v1/workflows/default/{name}/{action}", json={}, timeout=30
            )
            return True
        return False

    def refusal(self, resp: requests.Response) -> Verdict:
        try:
            message = resp.json().get("message", resp.text)
        except ValueError:
            message = resp.text
        if resp.status_code == 400 and message.startswith("unsupported: "):
            field = message[len("unsupported: ") :]
            return "REFUSED", f"refused as unsupported: {field}"
        return "WRONG", f"wrong: rejected with {resp.status_code}: {message}"

    def follow(
        self,
        path: Path,
        doc: dict[str, Any],
        resp: requests.Response,
        expect: dict[str, Any] | None = None,
    ) -> Verdict:
        must_fail = "expectedfailures" in path.parts  # Argo's e2e folder of failing workflows
        if expect and expect.get("rejected"):
            message = resp.json().get("message", "") if resp.status_code != 200 else ""
            if resp.status_code == 400 and expect["rejected"] in message:
                return "RAN", f"rejected at create as its e2e test says: {message}"
            return "WRONG", f"wrong: {resp.status_code} {message!r}, Argo rejects it: " + str(
                expect["rejected"]
            )
        if resp.status_code != 200:
            via = self.via_refused_template(resp)
            if via:
                return "REFUSED", via
            verdict = self.refusal(resp)
            if verdict[0] == "WRONG" and must_fail and resp.status_code == 400:
                return "RAN", f"rejected at create as documented: {verdict[1].split(': ', 2)[-1]}"
            return verdict
        name = resp.json()["metadata"]["name"]
        want, why = EXPECTED.get(path.name, (("Succeeded",), ""))
        if must_fail and path.name not in EXPECTED:
            want, why = ("Failed", "Error"), "in Argo's expectedfailures folder"
        labels = (doc.get("metadata") or {}).get("labels") or {}
        if labels.get(FAIL_LABEL) == "expected-failure":
            want, why = ("Failed",), "labelled expected-failure"
        if labels.get(FAIL_LABEL) == "duration" and "Running" not in want:
            want, why = (*want, "Running"), "labelled no-test: duration (runs for minutes)"
        if expect and expect.get("phase"):
            want, why = (expect["phase"],), expect.get("source", "its e2e test")
        deadline = time.time() + float((expect or {}).get("timeout") or self.timeout)
        phase, message, wf = "", "", {}
        acted = False
        while time.time() < deadline:
            wf = self.http.get(f"{self.base}/api/v1/workflows/default/{name}", timeout=30).json()
            phase = wf.get("status", {}).get("phase", "")
            message = wf.get("status", {}).get("message", "")
            if phase in SETTLE:
                break
            acted = acted or self.act(name, wf, expect)
            self.resume_if_suspended(name, wf)
            time.sleep(0.5)
        if phase not in SETTLE:
            self.http.put(
                f"{self.base}/api/v1/workflows/default/{name}/terminate", json={}, timeout=30
            )
            waiting_lock = phase == "Pending" and message.startswith("Waiting for")
            if "Running" in want and (phase == "Running" or waiting_lock):
                return "RAN", f"ran as documented (still running after {self.timeout:g}s: {why})"
            return "HUNG", f"hung (still {phase or 'Pending'} after {self.timeout:g}s: {message})"
        got = "Failed" if phase == "Error" and "Failed" in want and not expect else phase
        if got not in want:
            return "WRONG", f"wrong: expected {'/'.join(want)}, got {phase}: {message}"
        if expect and expect.get("retry_to"):
            return self.retry(name, expect)
        problems = check_expectations(wf, expect, self.log(name)) if expect else []
        if problems:
            return "WRONG", f"wrong ({phase}): " + "; ".join(problems)
        note = f"; {why}" if why else ""
        checked = f", {count_checks(expect)} checks of its e2e test" if expect else ""
        return "RAN", f"ran as documented ({phase}{checked}{note})"

    def retry(self, name: str, expect: dict[str, Any]) -> Verdict:
        """``retry_to``: the e2e test retries the settled workflow (`argo retry`), which must
        then end in that phase."""
        url = f"{self.base}/api/v1/workflows/default/{name}"
        resp = self.http.put(f"{url}/retry", json={}, timeout=30)
        if resp.status_code != 200:
            return "WRONG", f"wrong: retry answered {resp.status_code}: {resp.text[:200]}"
        deadline = time.time() + float(expect.get("timeout") or self.timeout)
        phase, message = "", ""
        while time.time() < deadline:
            status = self.http.get(url, timeout=30).json().get("status") or {}
            phase, message = status.get("phase", ""), status.get("message", "")
            if phase in SETTLE:
                break
            time.sleep(0.5)
        if phase not in SETTLE:
            return "HUNG", f"hung after retry (still {phase} after {self.timeout:g}s: {message})"
        if phase != expect["retry_to"]:
            return (
                "WRONG",
                f"wrong: after retry expected {expect['retry_to']}, got {phase}: {message}",
            )
        return "RAN", f"ran as documented ({expect['phase']}, then {phase} after a retry; " + str(
            expect.get("source", "its e2e test")
        ) + ")"

    def log(self, name: str) -> str:
        resp = self.http.get(
            f"{self.base}/api/v1/workflows/default/{name}/log",
            params={"logOptions.container": "main"},
            timeout=60,
        )
        lines = []
        for raw in resp.text.splitlines():
            with contextlib.suppress(ValueError, AttributeError):
                lines.append(json.loads(raw)["result"]["content"])
        return "\n".join(lines)


def count_checks(expect: dict[str, Any] | None) -> int:
    if not expect:
        return 0
    nodes = expect.get("nodes") or {}
    return (
        1
        + sum(len(v) for v in nodes.values())
        + len(expect.get("not_run") or [])
        + len(expect.get("log") or [])
        + ("node_count" in expect)
        + ("message" in expect)
        + ("message_contains" in expect)
        + ("progress" in expect)
        + len(expect.get("outputs") or {})
    )


def check_expectations(wf: dict[str, Any], expect: dict[str, Any], log: str) -> list[str]:
    """What an Argo e2e test asserts beyond the phase. ``nodes`` maps a display name to
    ``phase``, ``type``, ``progress``, ``not_type``, ``message`` (contained),
    ``inputs``/``outputs`` (parameter name -> value) and ``count`` (how many nodes have that
    display name); ``message`` and ``progress`` are the workflow's (``message_contains``: a
    part of its message, where the rest names this machine's figures); ``not_run`` lists display
    names that must not have run; ``log`` lists lines the workflow's log must contain;
    ``node_count`` is len(status.nodes); ``outputs`` maps the workflow's global output
    parameters to values."""
    status = wf.get("status") or {}
    nodes = list((status.get("nodes") or {}).values())
    problems = []
    if "message" in expect and (status.get("message") or "") != expect["message"]:
        problems.append(f"message {status.get('message')!r}, Argo says {expect['message']!r}")
    if "message_contains" in expect and expect["message_contains"] not in (
        status.get("message") or ""
    ):
        problems.append(f"message {status.get('message')!r} lacks {expect['message_contains']!r}")
    if "progress" in expect and status.get("progress") != expect["progress"]:
        problems.append(f"progress {status.get('progress')!r}, Argo says {expect['progress']!r}")
    if "node_count" in expect and len(nodes) != expect["node_count"]:
        problems.append(f"{len(nodes)} nodes, Argo makes {expect['node_count']}")
    for display, want in (expect.get("nodes") or {}).items():
        found = [n for n in nodes if n.get("displayName") == display]
        if "count" in want and len(found) != want["count"]:
            problems.append(f"{len(found)} nodes named {display}, Argo makes {want['count']}")
        if not found:
            problems.append(f"no node {display}")
            continue
        node = found[0]
        for key in ("phase", "type", "progress"):
            if key in want and node.get(key) != want[key]:
                problems.append(f"{display}.{key} {node.get(key)}, Argo says {want[key]}")
        if "not_type" in want and node.get("type") == want["not_type"]:
            problems.append(f"{display} is {want['not_type']}")
        if "message" in want and want["message"] not in (node.get("message") or ""):
            problems.append(f"{display}.message {node.get('message')!r} lacks {want['message']!r}")
        for section in ("inputs", "outputs"):
            got = {
                p["name"]: p.get("value")
                for p in ((node.get(section) or {}).get("parameters") or [])
            }
            for pname, value in (want.get(section) or {}).items():
                if got.get(pname) != str(value):
                    problems.append(
                        f"{display}.{section}.{pname} {got.get(pname)!r}, Argo says {value!r}"
                    )
    for display in expect.get("not_run") or []:
        ran = [
            n
            for n in nodes
            if n.get("displayName") == display and n.get("phase") in ("Succeeded", "Failed")
        ]
        if ran:
            problems.append(f"{display} ran, Argo does not run it")
    for line in expect.get("log") or []:
        if line not in log:
            problems.append(f"log lacks {line!r}")
    glob = {
        p["name"]: p.get("value") for p in (status.get("outputs") or {}).get("parameters") or []
    }
    for pname, value in (expect.get("outputs") or {}).items():
        if glob.get(pname) != str(value):
            problems.append(f"workflow output {pname} {glob.get(pname)!r}, Argo says {value!r}")
    return problems


def _suspended(wf: dict[str, Any]) -> bool:
    nodes = (wf.get("status") or {}).get("nodes") or {}
    return any(n.get("type") == "Suspend" and n.get("phase") == "Running" for n in nodes.values())


def _semaphore_refs(doc: Any) -> list[dict[str, str]]:
    refs = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("semaphores", "semaphore"):
                for sem in value if isinstance(value, list) else [value]:
                    ref = (sem or {}).get("configMapKeyRef")
                    if ref and ref.get("name") and ref.get("key"):
                        refs.append(ref)
            else:
                refs.extend(_semaphore_refs(value))
    elif isinstance(doc, list):
        for item in doc:
            refs.extend(_semaphore_refs(item))
    return refs


def create_documented_secrets(root: Path, data: Path) -> None:
    """The secrets examples ask to create first (in their comments), as the engine keeps them:
    ``<data>/secrets/default/<name>/<key>``."""
    for path in sorted(root.rglob("*.y*ml")):
        for name, literals in SECRET_SETUP.findall(path.read_text()):
            for literal in literals.split():
                key, _, value = literal[len("--from-literal=") :].partition("=")
                folder = data / "secrets" / "default" / name
                folder.mkdir(parents=True, exist_ok=True)
                (folder / key).write_text(value)


def load(root: Path) -> list[tuple[Path, list[dict[str, Any]]]]:
    return [f for path in sorted(root.rglob("*.y*ml")) for f in load_file(path)]


def load_file(path: Path) -> list[tuple[Path, list[dict[str, Any]]]]:
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        docs = [{"kind": "Invalid", "error": str(exc)}]
    return [(path, docs)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ydpipelines.localargo.conformance")
    parser.add_argument("dir", type=Path)
    parser.add_argument("--timeout", type=float, default=90, help="seconds allowed per file")
    parser.add_argument("--jobs", type=int, default=6, help="files run at once")
    parser.add_argument("--parallel", type=int, default=12, help="steps run at once")
    parser.add_argument("--expect", type=Path, help="YAML: file -> what Argo's e2e tests assert")
    parser.add_argument("--only", nargs="*", help="run only these files (paths relative to dir)")
    parser.add_argument(
        "--setup",
        nargs="*",
        type=Path,
        default=[],
        help="more manifests (WorkflowTemplates, ConfigMaps) to install before running",
    )
    args = parser.parse_args(argv)
    if not args.dir.is_dir():
        print(f"conformance: {args.dir} is not a folder", file=sys.stderr)
        return 2
    missing = [str(path) for path in args.setup if not path.is_file()]
    if missing:
        print(f"conformance: --setup: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    expect: dict[str, dict[str, Any]] = {}
    if args.expect:
        try:
            expect = yaml.safe_load(args.expect.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            print(f"conformance: cannot read {args.expect}: {exc}", file=sys.stderr)
            return 2
    files = load(args.dir)
    # as Argo's e2e suite does, every template of the folder (and of --setup) is installed
    # first, also for the files --only leaves out: a templateRef finds what it names
    installed = [d for path in args.setup for _, docs in load_file(path) for d in docs]
    installed += [d for _, docs in files for d in docs]
    if args.only:
        files = [(p, d) for p, d in files if p.relative_to(args.dir).as_posix() in args.only]
    counts = dict.fromkeys(VERDICTS, 0)
    refused: list[str] = []
    excluded: list[str] = []
    with tempfile.TemporaryDirectory(prefix="localargo-conformance-") as data:
        # steps of the examples mostly sleep: let more run at once than there are cores
        engine = Engine(data, max_parallel=args.parallel)
        create_documented_secrets(args.dir, Path(data))
        server = make_server(engine, "127.0.0.1", 0, None)
        engine.start()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        runner = Runner(f"http://127.0.0.1:{server.server_port}", args.timeout, expect)
        runner.setup(installed)
        runnable = [(p, d) for p, d in files if d]
        with ThreadPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(_safe, runner, p, d, args.dir) for p, d in runnable]
            for fut in futures:
                verdict, line = fut.result()
                print(line, flush=True)
                counts[verdict] += 1
                if verdict == "REFUSED":
                    refused.append(line[len("REFUSED ") :])
                if verdict == "EXCLUDED":
                    excluded.append(line[len("EXCLUDED ") :])
        server.shutdown()
        engine.stop()
    if refused:
        print("refused:")
        for line in refused:
            print(f"  {line}")
    if excluded:
        print("excluded:")
        for line in excluded:
            print(f"  {line}")
    print(
        f"{counts['RAN']} ran as documented, {counts['REFUSED']} refused, "
        f"{counts['WRONG']} wrong, {counts['HUNG']} hung, {counts['CRASHED']} crashed"
        + (f", {counts['EXCLUDED']} excluded" if counts["EXCLUDED"] else "")
    )
    bad = counts["WRONG"] + counts["HUNG"] + counts["CRASHED"]
    return 1 if bad else 0


def _safe(runner: Runner, path: Path, docs: list[dict], root: Path) -> Verdict:
    try:
        return runner.run_file(path, docs, root)
    except Exception as exc:  # the runner reports a crash as a line, and carries on
        rel = path.relative_to(root).as_posix()
        return "CRASHED", f"CRASHED {rel}: {type(exc).__name__}: {exc}"


if __name__ == "__main__":
    sys.exit(main())
