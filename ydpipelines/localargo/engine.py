"""The engine: store + controller loop + executor, and the operations the REST API exposes."""

from __future__ import annotations

import contextlib
import copy
import heapq
import json
import os
import posixpath
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import artifact_gc, dagpass, ids
from .adoption import TICKET
from .artifacts import ArtifactError, Repository, fetch_http
from .confined import Refused, open_output, resolve
from .containers import ContainerExecutor, make_executor
from .controller import LOST, Operation, StepError
from .dagpass import DagState
from .executor import SHIMS, StepOptions, StepRun, image_shell_dirs, runtime_for, step_path
from .expressions import ExpressionError
from .listing import node_selector
from .nodes import DONE, FAILED, fill_progress, now_iso, parse_iso
from .progress import PROGRESS, read_reported
from .scheduler import Capacity, Unfit, check, requests_of
from .shape import checked_resource
from .store import Store
from .sync import Sync
from .templating import Scope
from .validate import NODE_LABELS, ApiError, unschedulable, validate_spec, validate_workflow
from .volumes import StepFS, VolumeError, Volumes, parse_quantity
from .watch import Hub

PHASE_LABEL = "workflows.argoproj.io/phase"
COMPLETED_LABEL = "workflows.argoproj.io/completed"
SCRIPT = "/tmp/.argo/script"  # where a script template's source is written
# `/argosay` as a word of a command line (Argo's test image has its binary there)
ARGOSAY_PATH = re.compile(r"(?<![\w./-])/argosay(?![\w./-])")
READ_WAIT = 0.1  # seconds an API read waits for the lock before it reads committed objects


class Engine:
    def __init__(
        self,
        data_dir: str | Path,
        max_parallel: int | None = None,
        cron_seconds: bool = False,
        step_user: str | None = None,
        step_network: str | None = None,
        executor: str = "host",
        capacity: Capacity | None = None,
        cdi_dirs: tuple[str, ...] | None = None,
    ) -> None:
        """``step_user``/``step_network``: see sandbox.py; ``executor``: host, container or auto
        (containers.py); ``capacity``: what steps are admitted against (scheduler.py), by
        default the machine's; ``cdi_dirs``: where the machine's GPUs are described (gpus.py).
        Raises SandboxError when one is invalid here."""
        self.cron_seconds = cron_seconds
        self.data = Path(data_dir).resolve()
        self.data.mkdir(parents=True, exist_ok=True)
        self.capacity = capacity or Capacity.of_machine(data=self.data, cdi_dirs=cdi_dirs)
        self.executor = make_executor(
            executor,
            max_parallel or os.cpu_count() or 2,
            self._step_done,
            self.data,
            StepOptions(
                step_user=step_user,
                network=step_network,
                masked=(str(self.data),),  # other workflows' secrets, artifacts and logs
                network_log=self.data / "slirp4netns.log",
                cdi_dirs=cdi_dirs,
            ),
        )
        # why a step's image is not used (the host executor), said on its node and in its log
        self.not_used = None
        if not self.in_images:
            self.not_used = (
                "the engine runs with --executor host"
                if executor == "host"
                else "no container runtime on this machine"
            )
        self.lock = threading.RLock()
        self.store = Store(self.data / "state", self.lock)
        self.hub = Hub()  # watchers of /api/v1/workflow-events, told of every store change
        self.store.listeners.append(self.hub.publish)
        self.repo = Repository(self.data / "artifacts")
        self.sync = Sync(self)
        self._queue: set[tuple[str, str]] = set()
        self._cond = threading.Condition(self.lock)
        self._timers: list[tuple[float, tuple[str, str]]] = []
        self._waiting_slot: set[tuple[str, str]] = set()
        self._launched: dict[tuple[str, str, str], float] = {}
        self._dags: dagpass.Memory = {}  # what DAG passes keep between passes, per workflow
        # (ns, workflow, node id) -> the host path of the step's $ARGO_PROGRESS_FILE
        self._progress_files: dict[tuple[str, str, str], Path | None] = {}
        # node id -> (the node, its phase, finishedAt, outputs, the scope entries made of it):
        # a finished task's outputs are read by every later pass of its DAG (controller.py)
        self.finished_values: dict[str, tuple[Any, ...]] = {}
        self._stopping = False
        self.cron = None
        self._recover()

    # -- lifecycle -----------------------------------------------------------------

    def _recover(self) -> None:
        """After a restart: every live workflow resumes. The container executor takes back
        the containers of its running steps (they outlive the engine, as pods outlive Argo's
        controller); on the host executor those steps died with the engine and are lost."""
        live = []
        tickets: dict[tuple[str, str, str], Path] = {}
        for wf in self.store.items("workflows"):
            st = wf.get("status") or {}
            if st.get("phase") in ("Succeeded", "Failed", "Error"):
                continue
            key = (wf["metadata"].get("namespace", "default"), wf["metadata"]["name"])
            live.append((wf, key))
            for node in st.get("nodes", {}).values():
                if node.get("type") == "Pod" and node.get("phase") == "Running":
                    pod = ids.pod_name(key[1], node["name"], node.get("templateName", ""))
                    tickets[(*key, node["id"])] = self.step_dir(*key, pod) / TICKET
        with self.lock:  # an adopted step that ends at once waits for this to be done
            self._resume(live, tickets)

    def _resume(self, live: list, tickets: dict[tuple[str, str, str], Path]) -> None:
        adopted = self.executor.recover(tickets) if self.in_images else set()
        for key in adopted:  # its deadline counts from when it started
            run = self.executor.running.get(key)
            self._launched[key] = run.started if run is not None else time.time()
        for wf, key in live:
            for node in wf["status"].get("nodes", {}).values():
                if (*key, node["id"]) in tickets and (*key, node["id"]) not in adopted:
                    node["phase"] = "Error"
                    node["message"] = LOST
                    node["finishedAt"] = now_iso()
            self.sync.restore(wf)
            self.store.touch("workflows", *key)
            self._queue.add(key)

    def start(self) -> None:
        self.store.run_flusher()
        threading.Thread(target=self._loop, name="controller", daemon=True).start()
        threading.Thread(target=self._watch_progress, name="progress", daemon=True).start()
        from .cron import CronScheduler

        self.cron = CronScheduler(self, self.cron_seconds)
        self.cron.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.hub.close_all()
        self.executor.stop()
        self.store.stop()

    def enqueue(self, ns: str, name: str, at: float | None = None) -> None:
        with self._cond:
            if at is None or at <= time.time():
                self._queue.add((ns, name))
            else:
                heapq.heappush(self._timers, (at, (ns, name)))
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    timeout = None
                    if self._timers:
                        timeout = max(0.0, self._timers[0][0] - time.time())
                        if timeout == 0:
                            break
                    self._cond.wait(timeout if timeout is not None else 5)
                if self._stopping:
                    return
                now = time.time()
                while self._timers and self._timers[0][0] <= now:
                    self._queue.add(heapq.heappop(self._timers)[1])
                # oldest workflow first, as the Kubernetes scheduler queues pods by creation
                batch = sorted(self._queue, key=self._created)
                self._queue.clear()
            for key in batch:  # the lock is let go between workflows: API calls get a turn
                with self.lock:
                    if self._stopping:
                        return
                    self._operate(key)

    def dag_states(self, ns: str, name: str, nodes: dict[str, Any]) -> dict[str, DagState]:
        return dagpass.states_for(self._dags, (ns, name), nodes)

    def forget_dags(self, ns: str, name: str) -> None:
        """Nodes changed outside a pass (or the workflow ended): its next pass walks every
        task of its DAGs again."""
        self._dags.pop((ns, name), None)

    def _created(self, key: tuple[str, str]) -> tuple[str, str, str]:
        wf = self.store.get("workflows", *key) or {}
        return ((wf.get("metadata") or {}).get("creationTimestamp", ""), *key)

    def _operate(self, key: tuple[str, str]) -> None:
        wf = self.store.get("workflows", *key)
        if wf is None:
            return
        before = (wf.get("status") or {}).get("phase")
        op = None
        try:
            op = Operation(self, wf)  # reads the spec: a bug there must not kill the loop either
            op.run()
        except Exception as exc:  # a bug must not kill the loop: the workflow errors instead
            st = wf.setdefault("status", {})
            st["phase"] = "Error"
            st["message"] = f"engine error: {type(exc).__name__}: {exc}"
            st["finishedAt"] = now_iso()
            for node in st.get("nodes", {}).values():
                if node.get("type") == "Pod" and node.get("phase") == "Running":
                    self.kill_step(key[0], key[1], node["id"], st["message"])
        if wf["status"].get("phase") in DONE:  # ended, or a pass raised (Error)
            self.forget_dags(*key)
        self._after_pass(wf, before)
        if op and op.wake is not None and wf["status"].get("phase") not in DONE:
            heapq.heappush(self._timers, (op.wake, key))

    def _after_pass(self, wf: dict[str, Any], before: str | None) -> None:
        st = wf["status"]
        nodes = st.get("nodes", {})
        finished, total, cpu, mem = fill_progress(nodes, self._reported_progress(wf))
        st["progress"] = f"{finished}/{total}"
        st["resourcesDuration"] = {"cpu": cpu, "memory": mem}
        labels = wf["metadata"].setdefault("labels", {})
        phase = st.get("phase") or "Pending"
        labels[PHASE_LABEL] = phase
        if phase in ("Succeeded", "Failed", "Error"):
            labels[COMPLETED_LABEL] = "true"
            if before not in ("Succeeded", "Failed", "Error"):
                strategy = (wf["spec"].get("volumeClaimGC") or {}).get("strategy")
                if phase == "Succeeded" or strategy == "OnWorkflowCompletion":
                    self._drop_claims(wf)
                artifact_gc.collect(wf, "OnWorkflowCompletion", self.repo)
                if self.cron is not None:
                    self.cron.workflow_finished(wf)
        else:
            labels[COMPLETED_LABEL] = "false"
        ns, name = wf["metadata"].get("namespace", "default"), wf["metadata"]["name"]
        self.store.touch("workflows", ns, name)

    def _reported_progress(self, wf: dict[str, Any]) -> dict[str, tuple[int, int]]:
        """What the workflow's running steps wrote to $ARGO_PROGRESS_FILE, by node id, read
        from the file while the step is known (fill_progress keeps it on the node after)."""
        ns, name = wf["metadata"].get("namespace", "default"), wf["metadata"]["name"]
        nodes = wf["status"].get("nodes", {})
        reported = {}
        for key, path in list(self._progress_files.items()):
            if key[:2] == (ns, name):
                node = nodes.get(key[2])
                got = read_reported(path)
                if got is not None and node is not None:
                    reported[key[2]] = got
                if node is None or node.get("phase") in DONE:
                    self._progress_files.pop(key, None)
        return reported

    def _watch_progress(self) -> None:
        """Argo's executor reads $ARGO_PROGRESS_FILE every few seconds: a step's new N/M
        gives its workflow a controller pass (a stat a running step, nothing more)."""
        seen: dict[tuple[str, str, str], tuple[int, int] | None] = {}
        while not self._stopping:
            time.sleep(1)
            for key, path in list(self._progress_files.items()):
                got = read_reported(path)
                if got != seen.get(key):
                    seen[key] = got
                    self.enqueue(key[0], key[1])
            for key in set(seen) - set(self._progress_files):
                seen.pop(key, None)

    def _drop_claims(self, wf: dict[str, Any]) -> None:
        """The folders of the workflow's volumeClaimTemplates go with it (volumeClaimGC)."""
        ns, name = wf["metadata"].get("namespace", "default"), wf["metadata"]["name"]
        for vct in wf["spec"].get("volumeClaimTemplates") or []:
            claim = f"{name}-{(vct.get('metadata') or {}).get('name', '')}"
            shutil.rmtree(self.data / "volumes" / ns / claim, ignore_errors=True)

    # -- steps ---------------------------------------------------------------------

    def kill_step(self, ns: str, wf: str, node_id: str, reason: str) -> None:
        self.executor.kill((ns, wf, node_id), reason)

    def run_pod(self, op: Operation, node: dict[str, Any], tmpl: dict[str, Any], scope: Scope):
        key = (op.ns, op.name, node["id"])
        deadline = tmpl.get("activeDeadlineSeconds")
        try:
            ends = op.pod_deadlines(node, tmpl)
        except ValueError as exc:
            op.finish(node, "Error", f"invalid timeout format. {exc}")
            return
        if node["phase"] == "Running":
            if (deadline is not None or ends) and key in self._launched:
                limit = min(
                    [*ends.values(), *([self._launched[key] + float(deadline)] if deadline else [])]
                )
                if op.now >= limit:
                    reason = "Pod was active on the node longer than the specified deadline"
                    self.kill_step(*key, reason)
                    op.finish(node, "Failed", reason)
                else:
                    op.wake_at(limit)
            return
        shutdown = op.spec.get("shutdown")
        exiting = ".onExit" in node["name"]  # exit handlers still run after Stop or a deadline
        if node["phase"] != "Pending" or op.spec.get("suspend"):
            return
        if "timeout" in ends and op.now >= ends["timeout"]:
            op.finish(node, "Failed", "timeout")  # Argo's ErrTimeout for a node still Pending
            return
        if ends and min(ends.values()) - op.now <= 1:
            op.finish(node, "Error", f"{node['name']} exceeded its deadline")
            return
        if shutdown == "Terminate" or (shutdown and not exiting):
            return
        par = op.spec.get("parallelism")  # 0 or less is refused at create
        if par is not None and op.active_pods >= int(par):
            node["message"] = "Waiting for the workflow's parallelism"
            return
        bid = node.get("boundaryID", "")
        tpar = self.boundary_parallelism(op, bid)
        if tpar is not None and op.running_in.get(bid, 0) >= tpar:
            node["message"] = "Waiting for the template's parallelism"
            return
        if not self._admit(op, node, tmpl, scope):
            return
        if self.executor.free_slots() <= 0:
            self._waiting_slot.add((op.ns, op.name))
            node["message"] = "Waiting for a free slot on this machine"
            return
        selector = {
            **scope.substitute(op.spec.get("nodeSelector") or {}),
            **(tmpl.get("nodeSelector") or {}),
        }
        missing = [f"{k}={v}" for k, v in sorted(selector.items()) if unschedulable(k, v)]
        if missing:  # a parameter chose it: Kubernetes would leave the pod Pending for ever
            message = (
                f"0/1 nodes are available: 1 node(s) didn't match Pod's node selector {missing[0]}"
            )
            op.finish(node, "Error", message)
            return
        try:
            run = self._build_run(op, node, tmpl, scope)
        except (StepError, ValueError, OSError) as exc:
            op.finish(node, "Error", str(exc))
            return
        if not self.executor.start(run):
            self._waiting_slot.add((op.ns, op.name))
            return
        self._launched[key] = time.time()
        node["phase"] = "Running"
        node["hostNodeName"] = "localhost"
        notes = [image_note(run.spec.get("image", ""), self.not_used)]
        if not self.in_images:
            notes.append(run_note(tmpl, op.spec))
        note = "; ".join(n for n in notes if n)
        if note:
            node["message"] = note
        else:
            node.pop("message", None)
        op.active_pods += 1
        op.running_in[bid] = op.running_in.get(bid, 0) + 1
        if deadline is not None:
            op.wake_at(time.time() + float(deadline))
        for end in ends.values():
            op.wake_at(end)

    def no_free_slot(self, op: Operation, node: dict[str, Any]) -> bool:
        """A pending pod that cannot start in this pass, as every slot of the machine is
        taken; the workflow is queued again when one frees."""
        if node["phase"] != "Pending" or self.executor.free_slots() > 0:
            return False
        self._waiting_slot.add((op.ns, op.name))
        return True

    def boundary_parallelism(self, op: Operation, bid: str) -> int | None:
        if bid in op.boundary_limits:
            return op.boundary_limits[bid]
        boundary = op.nodes.get(bid)
        limit = None
        if boundary is not None:
            with contextlib.suppress(StepError):
                par = op.resolve({"template": boundary.get("templateName")}).get("parallelism")
                # Argo's Template.HasParallelism() is `parallelism > 0`: 0 (KFP's ParallelFor)
                # means no limit
                limit = int(par) if par is not None and int(par) > 0 else None
        op.boundary_limits[bid] = limit
        return limit

    def _admit(
        self, op: Operation, node: dict[str, Any], tmpl: dict[str, Any], scope: Scope
    ) -> bool:
        """Whether the step's requests fit in what the running steps leave free (scheduler.py);
        if not, it waits with the reason on its node, or errors when it never can fit."""
        spec = tmpl.get("script") or tmpl.get("container") or {}
        try:
            asked = requests_of({"resources": scope.substitute(spec.get("resources") or {})})
            with self.executor.lock:
                running = [run.spec for run in self.executor.running.values()]
            check(asked, self.capacity, (requests_of(s) for s in running))
        except ValueError as exc:
            op.finish(node, "Error", f"resources: {exc}")
            return False
        except Unfit as exc:
            if exc.never:
                op.finish(node, "Error", str(exc))
                return False
            self._waiting_slot.add((op.ns, op.name))  # looked at again when a step ends
            node["message"] = str(exc)
            return False
        return True

    @property
    def in_images(self) -> bool:
        """Steps run in their images (the container executor), not on the host."""
        return isinstance(self.executor, ContainerExecutor)

    def step_dir(self, ns: str, wf: str, pod: str) -> Path:
        return self.data / "steps" / ns / wf / pod

    def log_path(self, ns: str, wf: str, pod: str) -> Path:
        return self.data / "logs" / ns / wf / f"{pod}.log"

    def _build_run(
        self, op: Operation, node: dict[str, Any], tmpl: dict[str, Any], scope: Scope
    ) -> StepRun:
        pod = ids.pod_name(op.name, node["name"], tmpl.get("name", ""))
        scope = scope.child({"pod.name": pod, "node.name": node["name"]})
        is_script = "script" in tmpl
        try:
            spec = scope.substitute(tmpl["script"] if is_script else tmpl["container"], True)
        except ExpressionError as exc:
            raise StepError(str(exc)) from exc
        base = self.step_dir(op.ns, op.name, pod)
        if base.exists():
            shutil.rmtree(base, ignore_errors=True)
        tmp = base / "tmp"
        tmp.mkdir(parents=True)
        image = spec.get("image", "")
        runtime = runtime_for(image)
        command = list(spec.get("command") or [])
        args = list(spec.get("args") or [])
        if not command:
            command = {"argosay": ["argosay"], "python": ["python3"], "shell": ["sh"]}.get(
                runtime, []
            )
            if not command and not args and not self.in_images:
                raise StepError(f"image {image!r} has no command: its entrypoint is unknown here")
        # Argo's executeScript appends the script's path after the template's args, unless
        # `source` is empty (Argo's e2e dag-empty-param and loops-empty-param rely on it)
        argv = [*command, *args, SCRIPT] if is_script and spec.get("source") else [*command, *args]
        if runtime == "argosay" and not self.in_images:  # the image's /argosay is our shim
            argv = [ARGOSAY_PATH.sub(str(SHIMS / "argosay"), a) for a in argv]
        if argv[:1] == ["/bin/sh"] and not self.in_images and image_shell_dirs(image):
            argv[0] = "sh"  # the image's /bin/sh: found on PATH (image_shell_dirs)
        if not self.in_images:  # a container's memory limit is its cgroup's (containers.py)
            argv = [*memory_limit(spec.get("resources")), *argv]
        env = {
            # an image has its own PATH; on the host, `sh` is the image's shell (executor.py)
            **({} if self.in_images else {"PATH": step_path(image_shell_dirs(image))}),
            "HOME": "/tmp",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            # Python steps write stdout as they go, so the log keeps stdout/stderr in order
            "PYTHONUNBUFFERED": "1",
            "ARGO_POD_NAME": pod,
            "ARGO_NODE_ID": node["id"],
            "ARGO_WORKFLOW_NAME": op.name,
            "ARGO_TEMPLATE": json.dumps(tmpl, separators=(",", ":"))[:65536],
            "ARGO_PROGRESS_FILE": PROGRESS,
        }
        for var in spec.get("env") or []:
            env[var["name"]] = self._env_value(op, var, pod)
        cwd = posixpath.join("/tmp", spec.get("workingDir") or "/tmp")
        fs = self._step_fs(op, scope, base, tmp, tmpl, spec, node.get("inputs") or {})
        self._progress_files[(op.ns, op.name, node["id"])] = fs.host_path(PROGRESS)
        if is_script:
            script = fs.host_path(SCRIPT)
            if script is None:
                raise StepError(f"the script's path {SCRIPT} is not reachable from the engine")
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(spec.get("source", ""))
            script.chmod(0o755)  # `sh -c /tmp/.argo/script` runs the file itself
        try:
            plan = fs.plan(cwd, base / "root")
        except VolumeError as exc:
            raise StepError(str(exc)) from exc
        if plan is not None:
            (base / "root").mkdir()
        inputs = node.get("inputs") or {}
        log = self.log_path(op.ns, op.name, pod)
        log.parent.mkdir(parents=True, exist_ok=True)
        note = image_note(image, self.not_used)
        log.write_text(f"{note}\n" if note else "")
        return StepRun(
            key=(op.ns, op.name, node["id"]),
            argv=argv,
            env=env,
            tmp_dir=tmp,
            cwd=cwd,
            log_path=log,
            prepare=lambda: self._place_inputs(inputs, fs, cwd),
            outputs=copy.deepcopy(tmpl.get("outputs") or {}),
            pod=pod,
            fs=fs,
            mount_plan=plan,
            spec=spec,
        )

    def _step_fs(
        self,
        op: Operation,
        scope: Scope,
        base: Path,
        tmp: Path,
        tmpl: dict[str, Any],
        spec: dict[str, Any],
        inputs: dict[str, Any],
    ) -> StepFS:
        """The step's /tmp and volumes as host folders (see volumes.py)."""
        outputs = tmpl.get("outputs") or {}
        visible = [SCRIPT] if "script" in tmpl else []
        visible += [a.get("path", "") for a in inputs.get("artifacts") or []]
        visible += [a.get("path", "") for a in outputs.get("artifacts") or []]
        visible += [
            (p.get("valueFrom") or {}).get("path", "") for p in outputs.get("parameters") or []
        ]
        # the template's own volumes were rendered with the template; the workflow's are not yet
        pod_volumes = [
            *op.workflow_volumes(scope),
            *(tmpl.get("volumes") or []),
        ]
        try:
            return Volumes(self.data, op.ns, op.name, base).build(
                tmp,
                pod_volumes,
                op.spec.get("volumeClaimTemplates") or [],
                spec.get("volumeMounts") or [],
                [v for v in visible if v],
            )
        except VolumeError as exc:
            raise StepError(str(exc)) from exc

    def _env_value(self, op: Operation, var: dict[str, Any], pod: str) -> str:
        if "value" in var:
            return str(var["value"])
        vf = var.get("valueFrom") or {}
        if "secretKeyRef" in vf or "configMapKeyRef" in vf:
            kind = "secrets" if "secretKeyRef" in vf else "configmaps"
            ref = vf.get("secretKeyRef") or vf.get("configMapKeyRef")
            path = self.data / kind / op.ns / ref["name"] / ref["key"]
            if path.is_file():
                return path.read_text()
            if ref.get("optional"):
                return ""
            raise StepError(
                f"env {var['name']}: {kind[:-1]} {ref['name']}/{ref['key']} not found "
                f"(the engine reads it from {path})"
            )
        field = (vf.get("fieldRef") or {}).get("fieldPath", "")
        return {
            "metadata.name": pod,
            "metadata.namespace": op.ns,
            "spec.nodeName": "localhost",
            "status.podIP": "127.0.0.1",
        }.get(field, "")

    def _place_inputs(self, inputs: dict[str, Any], fs: StepFS, cwd: str) -> None:
        """Place the input artifacts (as Argo's init container does), then hand the step's
        writable places to its uid."""
        placed: list[Path] = []
        for art in inputs.get("artifacts", []):
            dest = self._inside(fs, art["path"], f"input artifact {art['name']}")
            if "raw" in art:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(art["raw"].get("data", ""))
            elif "http" in art:
                fetch_http(art["http"]["url"], dest, art["http"].get("headers"))
            elif "s3" in art and art["s3"].get("key"):
                self.repo.place(art["s3"]["key"], dest, art.get("subPath"))
            if art.get("mode") is not None and dest.exists():
                os.chmod(dest, int(art["mode"]))
            placed.append(dest)
        with contextlib.suppress(ArtifactError):  # else the step's own mkdir says why
            self._inside(fs, cwd, "workingDir").mkdir(parents=True, exist_ok=True)
        self.executor.sandbox.hand_over(fs, placed)

    @staticmethod
    def _inside(fs: StepFS, path: str, what: str) -> Path:
        """Where the engine (root) may write ``path`` for the step: symlinks followed as the
        step sees them (a claim keeps links an earlier step left), never out of its files."""
        try:
            host = fs.host_path(resolve(fs, path, strict=False))
        except FileNotFoundError:
            host = None
        except Refused as exc:
            raise ArtifactError(f"{what}: {exc}") from None
        if host is None:
            raise ArtifactError(f"{what}: {path} is outside /tmp and the step's volumes")
        return host

    def _step_done(self, run: StepRun, code: int, reason: str | None) -> None:
        """Executor callback (its own thread): collect outputs, then record the node's end."""
        ns, wf_name, nid = run.key
        if code < 0 and not reason:
            # Ended by a signal nobody here sent (the OOM killer, a kill from the host): what a
            # container runtime reports for it, 128 + the signal (137 for SIGKILL), as Argo shows.
            code = 128 - code
        outputs: dict[str, Any] = {"exitCode": str(code)} if code >= 0 else {}
        problem = None
        if code >= 0 and not reason:
            try:
                outputs.update(self._collect(run, wf_name, code))
            except (StepError, ArtifactError, OSError) as exc:
                problem = str(exc)
        elif code >= 0 and reason:
            with contextlib.suppress(StepError, ArtifactError, OSError):
                outputs.update(self._collect(run, wf_name, code, lenient=True))
        with self.lock:
            self._launched.pop(run.key, None)
            wf = self.store.get("workflows", ns, wf_name)
            waiting = list(self._waiting_slot)
            self._waiting_slot.clear()
            for key in waiting:
                self._queue.add(key)
            if wf is None:
                self._cond.notify()
                return
            node = wf["status"]["nodes"].get(nid)
            if node is None:
                return
            if outputs:
                node["outputs"] = outputs
            elapsed = max(0.0, time.time() - run.started) if run.started else 0.0
            node["resourcesDuration"] = {
                "cpu": max(1, round(elapsed)),
                "memory": max(1, round(elapsed)),
            }
            if node["phase"] not in DONE:
                if code < 0 and not run.kill_reason:
                    node["phase"], node["message"] = "Error", reason or "step could not start"
                elif run.kill_reason:
                    node["phase"], node["message"] = "Failed", run.kill_reason
                elif problem:
                    node["phase"], node["message"] = "Error", problem
                elif code == 0:
                    node["phase"] = "Succeeded"
                    if node.get("message", "").startswith("Waiting"):
                        node.pop("message")
                else:
                    node["phase"], node["message"] = "Failed", f"Error (exit code {code})"
            node["finishedAt"] = now_iso()
            self.store.touch("workflows", ns, wf_name)
            self._queue.add((ns, wf_name))
            self._cond.notify()

    def _collect(self, run: StepRun, wf_name: str, code: int, lenient: bool = False) -> dict:
        """The step's outputs, read only from its own files (confined.py). A path that is
        missing or leads out of them errs the step, as an unreadable output does in Argo."""
        declared = run.outputs
        strict = not lenient and code == 0
        result: dict[str, Any] = {}
        params = []
        for p in declared.get("parameters", []) or []:
            vf = p.get("valueFrom") or {}
            out = {k: v for k, v in p.items() if k != "value"}
            if "path" in vf:
                try:
                    with open_output(run.fs, vf["path"]) as src:
                        out["value"] = src.read().decode(errors="replace").rstrip("\n")
                except (Refused, OSError) as exc:
                    if "default" in vf:  # Argo takes the default on any read error
                        out["value"] = str(vf["default"])
                    elif strict:
                        raise StepError(f"outputs.parameters.{p['name']}: {_why(exc)}") from exc
            elif "value" in p:
                out["value"] = str(p["value"])
            params.append(out)
        arts = []
        prefix = f"{wf_name}/{run.pod}"
        for a in declared.get("artifacts", []) or []:
            try:
                with open_output(run.fs, a.get("path", "")) as src:
                    key = self.repo.store(src, prefix, a)
                    skipped = src.skipped
            except FileNotFoundError as exc:
                if a.get("optional") or not strict:
                    continue
                raise StepError(f"outputs.artifacts.{a['name']}: {_why(exc)}") from exc
            except Refused as exc:  # Argo's optional excuses only a missing artifact
                if not strict:
                    continue
                raise StepError(f"outputs.artifacts.{a['name']}: {exc}") from exc
            if skipped:
                with open(run.log_path, "a") as log:
                    for link in skipped:
                        log.write(
                            f"outputs.artifacts.{a['name']}: left out the link {link}: "
                            "it leads out of the artifact\n"
                        )
            entry = {k: v for k, v in a.items() if k not in ("optional",)}
            entry["s3"] = {"key": key}
            arts.append(entry)
        if params:
            result["parameters"] = params
        if arts:
            result["artifacts"] = arts
        out = bytes(run.stdout).decode(errors="replace")
        result["result"] = out[:-1] if out.endswith("\n") else out
        return result

    # -- API: workflows --------------------------------------------------------------

    def _ns(self, ns: str) -> str:
        return ns or "default"

    def create_workflow(
        self, ns: str, wf: dict[str, Any], dry_run: bool = False, now: float | None = None
    ) -> dict[str, Any]:
        wf = checked_resource(wf)  # a fresh copy
        ns = self._ns(ns or (wf.get("metadata") or {}).get("namespace", ""))
        wf.setdefault("apiVersion", "argoproj.io/v1alpha1")
        wf["kind"] = "Workflow"
        meta = wf["metadata"] = wf.get("metadata") or {}
        meta["namespace"] = ns
        wf["spec"] = wf.get("spec") or {}
        with self.lock:
            self._inline_template_ref(ns, wf)
            validate_workflow(wf, self)
            self._check_template_refs(ns, wf["spec"])
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise ApiError(400, "metadata.name or metadata.generateName is required")
                for i in range(100):
                    cand = meta["generateName"] + ids.random_suffix(f"{uuid.uuid4()}{i}")
                    if self.store.get("workflows", ns, cand) is None:
                        meta["name"] = cand
                        break
            name = meta["name"]
            if not ids.valid_name(name):
                raise ApiError(400, f"metadata.name {name!r} is not a valid DNS-1123 subdomain")
            if self.store.get("workflows", ns, name) is not None:
                raise ApiError(
                    409, f'workflows.argoproj.io "{name}" already exists', "AlreadyExists"
                )
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_iso(now)
            meta["generation"] = 1
            labels = meta.setdefault("labels", {})
            labels[PHASE_LABEL] = "Pending"
            labels[COMPLETED_LABEL] = "false"
            wf["status"] = {"phase": "Pending", "progress": "0/0", "nodes": {}}
            if dry_run:
                return wf
            self.store.put("workflows", ns, name, wf, now=True)
            self._queue.add((ns, name))
            self._cond.notify()
            return copy.deepcopy(wf)

    def lint_workflow(self, ns: str, wf: dict[str, Any]) -> dict[str, Any]:
        """Validate as create does, but a name already in use is fine (Argo's lint)."""
        wf = checked_resource(wf)  # a fresh copy
        ns = self._ns(ns or (wf.get("metadata") or {}).get("namespace", ""))
        wf["metadata"] = {**(wf.get("metadata") or {}), "namespace": ns}
        wf.setdefault("apiVersion", "argoproj.io/v1alpha1")
        wf["kind"] = "Workflow"
        wf["spec"] = wf.get("spec") or {}
        check = copy.deepcopy(wf)
        with self.lock:
            self._inline_template_ref(ns, check)
            validate_workflow(check, self)
        return wf

    def lint_template(self, kind: str, ns: str, tmpl: dict[str, Any]) -> dict[str, Any]:
        tmpl = checked_resource(tmpl)
        spec = tmpl.get("spec")
        if not isinstance(spec, dict):
            raise ApiError(400, "spec is required")
        validate_spec(spec, "spec", need_entrypoint=False)
        if ns:
            tmpl.setdefault("metadata", {})["namespace"] = ns
        return tmpl

    def _inline_template_ref(self, ns: str, wf: dict[str, Any]) -> None:
        ref = (wf.get("spec") or {}).get("workflowTemplateRef")
        if not ref:
            return
        kind = "clusterworkflowtemplates" if ref.get("clusterScope") else "workflowtemplates"
        tmpl = self.store.get(kind, "" if ref.get("clusterScope") else ns, ref.get("name", ""))
        if tmpl is None:
            # Argo Server's create refuses it with the informer's wording (a kubectl apply
            # would instead store it and error it: "... \"name\" not found")
            raise ApiError(400, f'{_ref_kind(ref)}.argoproj.io "{ref.get("name")}" not found')
        base = copy.deepcopy(tmpl.get("spec") or {})
        own = wf["spec"]
        merged = {**base, **{k: v for k, v in own.items() if k != "workflowTemplateRef"}}
        args = copy.deepcopy(base.get("arguments") or {})
        given = {p["name"]: p for p in (own.get("arguments") or {}).get("parameters", [])}
        params = []
        for p in args.get("parameters", []):
            params.append({**p, **given.pop(p["name"], {})})
        params.extend(given.values())
        if params:
            args["parameters"] = params
        if args:
            merged["arguments"] = args
        merged["workflowTemplateRef"] = ref
        wf["spec"] = merged

    def _check_template_refs(self, ns: str, spec: dict[str, Any]) -> None:
        """Argo's create resolves every templateRef of the workflow's own templates: one
        naming a template not stored is refused, not left to error at run time."""
        for i, tmpl in enumerate(spec.get("templates") or []):
            tasks = [
                (f"steps[{j}][{k}]", step)
                for j, group in enumerate(tmpl.get("steps") or [])
                for k, step in enumerate(group or [])
            ]
            tasks += [
                (f"dag.tasks[{j}]", task)
                for j, task in enumerate((tmpl.get("dag") or {}).get("tasks") or [])
            ]
            for at, task in tasks:
                ref = task.get("templateRef")
                if not ref or "{{" in json.dumps(ref):
                    continue
                try:
                    self.template_from_ref(ns, ref)
                except StepError as exc:
                    raise ApiError(400, f"spec.templates[{i}].{at}.templateRef: {exc}") from None

    def template_from_ref(self, ns: str, ref: dict[str, Any]) -> dict[str, Any]:
        kind = "clusterworkflowtemplates" if ref.get("clusterScope") else "workflowtemplates"
        wt = self.store.get(kind, "" if ref.get("clusterScope") else ns, ref.get("name", ""))
        if wt is None:
            raise StepError(f'{_ref_kind(ref)}.argoproj.io "{ref.get("name")}" not found')
        for t in (wt.get("spec") or {}).get("templates", []):
            if t.get("name") == ref.get("template"):
                return scoped_to(copy.deepcopy(t), ref)
        raise StepError(f"template {ref.get('template')!r} not found in {ref.get('name')!r}")

    @contextlib.contextmanager
    def reading(self, wait: float = READ_WAIT) -> Iterator[bool]:
        """For an API read: True, holding the lock, when it is free within ``wait`` seconds
        (read the live objects); else False without it (read ``committed`` ones). A long
        controller pass (10,000 nodes) then delays a GET by ``wait``, not by the pass, and
        the answer is what was last written, as Argo Server answers from its informer."""
        live = self.lock.acquire(timeout=wait)
        try:
            yield live
        finally:
            if live:
                self.lock.release()

    def get_workflow(self, ns: str, name: str, committed: bool = False) -> dict[str, Any]:
        if committed:
            found = self.store.committed("workflows", self._ns(ns), name)
            wf = found[0] if found else None
        else:
            wf = self.store.get("workflows", self._ns(ns), name)
        if wf is None:
            raise ApiError(404, f'workflows.argoproj.io "{name}" not found', "NotFound")
        return wf

    def list_workflows(
        self, ns: str, selector: str = "", committed: bool = False
    ) -> list[dict[str, Any]]:
        match = parse_selector(selector)
        found = (
            self.store.committed_items("workflows", ns)
            if committed
            else self.store.items("workflows", ns)
        )
        items = [wf for wf in found if match(wf)]
        items.sort(
            key=lambda w: (w["metadata"].get("creationTimestamp", ""), w["metadata"]["name"]),
            reverse=True,
        )
        return items

    def delete_workflow(self, ns: str, name: str) -> None:
        with self.lock:
            wf = self.get_workflow(ns, name)
            ns = self._ns(ns)
            for node in wf["status"].get("nodes", {}).values():
                if node.get("type") == "Pod" and node.get("phase") not in DONE:
                    self.kill_step(ns, name, node["id"], "workflow deleted")
            self.sync.release_all_of(wf)
            artifact_gc.collect(wf, "OnWorkflowDeletion", self.repo)
            for key in [k for k in self._progress_files if k[:2] == (ns, name)]:
                del self._progress_files[key]
            if wf["status"].get("phase") in DONE:
                archived = copy.deepcopy(wf)
                # what Argo's archive stores (its live workflow is labelled "Archived")
                archived["metadata"]["labels"][
                    "workflows.argoproj.io/workflow-archiving-status"
                ] = "Persisted"
                self.store.put("archive", ns, wf["metadata"]["uid"], archived, now=True)
            self.store.delete("workflows", ns, name)
            self.forget_dags(ns, name)
        self._drop_claims(wf)
        shutil.rmtree(self.data / "steps" / ns / name, ignore_errors=True)

    def archived(self, uid: str) -> dict[str, Any]:
        for wf in self.store.items("archive"):
            if wf["metadata"].get("uid") == uid:
                return wf
        with self.lock:
            for wf in self.store.items("workflows"):
                if wf["metadata"].get("uid") == uid:
                    return wf
        raise ApiError(404, f"archived workflow {uid} not found", "NotFound")

    def _mutate(self, ns: str, name: str) -> dict[str, Any]:
        wf = self.get_workflow(ns, name)
        return wf

    def shutdown(self, ns: str, name: str, how: str, message: str = "") -> dict[str, Any]:
        with self.lock:
            wf = self.get_workflow(ns, name)
            if wf["status"].get("phase") in ("Succeeded", "Failed", "Error"):
                raise ApiError(409, f"cannot {how.lower()} completed workflow {name}")
            if message:  # Argo's stop message becomes the workflow's
                wf["status"]["message"] = message
            wf["spec"]["shutdown"] = how
            self._touch_and_run(wf)
            op = Operation(self, wf)
            op.run()
            self._after_pass(wf, "Running")
            self.store.commit("workflows", ns, name)
            return copy.deepcopy(wf)

    def _touch_and_run(self, wf: dict[str, Any]) -> None:
        key = (wf["metadata"]["namespace"], wf["metadata"]["name"])
        self.forget_dags(*key)  # retry, resume, set, stop, terminate: a full walk next
        self.store.touch("workflows", *key)
        self.store.commit("workflows", *key)  # a read that follows sees the change
        self._queue.add(key)
        self._cond.notify()

    def suspend(self, ns: str, name: str) -> dict[str, Any]:
        with self.lock:
            wf = self.get_workflow(ns, name)
            if wf["status"].get("phase") in ("Succeeded", "Failed", "Error"):
                raise ApiError(409, "cannot suspend completed workflows")
            wf["spec"]["suspend"] = True
            self._touch_and_run(wf)
            return copy.deepcopy(wf)

    def resume(self, ns: str, name: str, selector: str = "") -> dict[str, Any]:
        """Resume: without a selector, unsuspend the workflow and succeed every waiting
        suspend node (an output ``valueFrom.supplied`` not set takes its default); with a
        ``nodeFieldSelector``, succeed only the matching suspend nodes (Argo's rules)."""
        with self.lock:
            wf = self.get_workflow(ns, name)
            if selector:
                self._set_suspended(wf, selector, "Succeeded", "", {})
            else:
                op = Operation(self, wf)
                for node in self._active_suspends(wf):
                    node["outputs"] = self._supplied_outputs(op, node, {}, defaults=True)
                    op.finish(node, "Succeeded")
                wf["spec"].pop("suspend", None)
                op.resume()
            self._touch_and_run(wf)
            return copy.deepcopy(wf)

    def set_nodes(
        self,
        ns: str,
        name: str,
        node_selector: str,
        phase: str,
        message: str,
        outputs: dict[str, str],
    ) -> dict[str, Any]:
        """``PUT .../set``: phase, message and supplied output parameters of the waiting
        suspend nodes that ``node_selector`` matches."""
        with self.lock:
            wf = self.get_workflow(ns, name)
            self._set_suspended(wf, node_selector, phase, message, outputs)
            self._touch_and_run(wf)
            return copy.deepcopy(wf)

    def _active_suspends(self, wf: dict[str, Any]) -> list[dict[str, Any]]:
        nodes = wf["status"].get("nodes", {}).values()
        return [n for n in nodes if n.get("type") == "Suspend" and n.get("phase") == "Running"]

    def _set_suspended(
        self, wf: dict[str, Any], selector: str, phase: str, message: str, values: dict[str, str]
    ) -> None:
        match = node_selector(selector)
        op = Operation(self, wf)
        hit = [n for n in self._active_suspends(wf) if match(n)]
        if not hit:
            raise ApiError(
                400,
                "currently, set only targets suspend nodes: no suspend nodes matching "
                f"nodeFieldSelector: {selector}",
            )
        for node in hit:  # check every node first: a refused set changes nothing
            self._supplied_outputs(op, node, values, defaults=False)
        for node in hit:
            if values:
                node["outputs"] = self._supplied_outputs(op, node, values, defaults=False)
            if message:
                node["message"] = message
            if phase:
                op.finish(node, phase, message or None)

    def _supplied_outputs(
        self, op: Operation, node: dict[str, Any], values: dict[str, str], defaults: bool
    ) -> dict[str, Any]:
        """The node's output parameters with ``values`` set on its ``valueFrom.supplied``
        ones (kept from an earlier set); with ``defaults``, the rest take ``valueFrom.default``
        and one with neither is an error, as in Argo's resume."""
        try:
            tmpl = op.resolve({"template": node.get("templateName")})
        except StepError:
            tmpl = {}
        declared = (tmpl.get("outputs") or {}).get("parameters") or []
        have = {p["name"]: p for p in (node.get("outputs") or {}).get("parameters") or []}
        names = {p["name"] for p in declared}
        for key in values:
            if key not in names:
                raise ApiError(400, f"node is not expecting output parameter '{key}'")
        params = []
        for p in declared:
            vf = p.get("valueFrom") or {}
            if p["name"] in values:
                if "supplied" not in vf or "value" in have.get(p["name"], {}):
                    raise ApiError(
                        400,
                        f"cannot set output parameter '{p['name']}' because it does not use "
                        "valueFrom.raw or it was already set",
                    )
                params.append({"name": p["name"], "value": values[p["name"]]})
            elif "value" in have.get(p["name"], {}):
                params.append(have[p["name"]])
            elif defaults and "supplied" in vf:
                if vf.get("default") is None:
                    raise ApiError(
                        400,
                        f"raw output parameter '{p['name']}' has not been set and does not have "
                        "a default value",
                    )
                params.append({"name": p["name"], "value": str(vf["default"])})
            elif "value" in p or (defaults and vf.get("default") is not None):
                params.append({"name": p["name"], "value": str(p.get("value", vf.get("default")))})
        return {"parameters": params} if params else {}

    def retry(
        self,
        ns: str,
        name: str,
        restart_successful: bool = False,
        node_selector: str = "",
        parameters: list[str] | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            wf = self.get_workflow(ns, name)
            self._formulate_retry(wf, restart_successful, node_selector, parameters or [])
            self._touch_and_run(wf)
            return copy.deepcopy(wf)

    def _formulate_retry(
        self, wf: dict[str, Any], restart: bool, selector: str, parameters: list[str]
    ) -> None:
        """Argo's retry: keep what succeeded, re-run the rest. ``restartSuccessful`` with a
        ``nodeFieldSelector`` also re-runs the succeeded nodes it matches and all they led to;
        ``parameters`` override the workflow's arguments."""
        st = wf["status"]
        if st.get("phase") not in ("Failed", "Error"):
            raise ApiError(409, "workflow must be Failed/Error to retry")
        if restart and not selector:
            raise ApiError(400, "restartSuccessful needs a nodeFieldSelector naming the nodes")
        nodes = st.get("nodes", {})
        reset: set[str] = set()
        if restart:
            match = node_selector(selector)
            todo = [nid for nid, n in nodes.items() if match(n)]
            while todo:  # a reset node takes everything downstream of it along
                nid = todo.pop()
                if nid in reset:
                    continue
                reset.add(nid)
                todo.extend((nodes.get(nid) or {}).get("children", []))
        override_parameters(wf["spec"], parameters)
        kept = {
            nid: n
            for nid, n in nodes.items()
            if n.get("phase") in ("Succeeded", "Skipped")
            and nid not in reset
            and ".onExit" not in n["name"]
            and n["type"] not in ("DAG", "Steps", "StepGroup", "TaskGroup")
        }
        for n in kept.values():
            n["children"] = [c for c in n.get("children", []) if c in kept]
        st["nodes"] = kept
        st["phase"] = "Running"
        for k in ("finishedAt", "message"):
            st.pop(k, None)
        wf["spec"].pop("shutdown", None)
        labels = wf["metadata"].setdefault("labels", {})
        labels[PHASE_LABEL] = "Running"
        labels[COMPLETED_LABEL] = "false"

    def retry_archived(self, uid: str, **options: Any) -> dict[str, Any]:
        """Retry a workflow that is only in the archive: it comes back as a live workflow
        under its name (409 while a live one holds that name)."""
        with self.lock:
            old = self._archived_only(uid)
            ns, name = old["metadata"]["namespace"], old["metadata"]["name"]
            if self.store.get("workflows", ns, name) is not None:
                raise ApiError(
                    409, f'workflows.argoproj.io "{name}" already exists', "AlreadyExists"
                )
            wf = copy.deepcopy(old)
            wf["metadata"]["labels"].pop("workflows.argoproj.io/workflow-archiving-status", None)
            wf["metadata"]["uid"] = str(uuid.uuid4())
            self._formulate_retry(
                wf,
                options.get("restart_successful", False),
                options.get("node_selector", ""),
                options.get("parameters") or [],
            )
            self.store.put("workflows", ns, name, wf, now=True)
            self._touch_and_run(wf)
            return copy.deepcopy(wf)

    def resubmit_archived(self, uid: str, parameters: list[str] | None = None) -> dict[str, Any]:
        with self.lock:
            old = copy.deepcopy(self._archived_only(uid))
        return self._resubmit_from(old, parameters or [])

    def _archived_only(self, uid: str) -> dict[str, Any]:
        for wf in self.store.items("archive"):
            if wf["metadata"].get("uid") == uid:
                return wf
        raise ApiError(404, "not found", "NotFound")

    def archived_by_name(self, query: dict[str, list[str]]) -> dict[str, Any]:
        ns = (query.get("namespace") or [""])[0]
        name = (query.get("name") or [""])[0]
        if ns and name:
            found = [wf for wf in self.store.items("archive", ns) if wf["metadata"]["name"] == name]
            if found:
                return max(found, key=lambda w: w["metadata"].get("creationTimestamp", ""))
        raise ApiError(404, "not found", "NotFound")

    def resubmit(self, ns: str, name: str, parameters: list[str] | None = None) -> dict[str, Any]:
        with self.lock:
            old = copy.deepcopy(self.get_workflow(ns, name))
        return self._resubmit_from(old, parameters or [])

    def _resubmit_from(self, old: dict[str, Any], parameters: list[str]) -> dict[str, Any]:
        ns = old["metadata"]["namespace"]
        meta = old["metadata"]
        new = {
            "metadata": {
                "generateName": f"{meta['name']}-",
                "labels": {
                    k: v
                    for k, v in (meta.get("labels") or {}).items()
                    if not k.startswith("workflows.argoproj.io/")
                },
                "annotations": dict(meta.get("annotations") or {}),
            },
            "spec": {k: v for k, v in old["spec"].items() if k not in ("shutdown", "suspend")},
        }
        new["metadata"]["labels"]["workflows.argoproj.io/resubmitted-from-workflow"] = meta["name"]
        override_parameters(new["spec"], parameters)
        return self.create_workflow(ns, new)

    def set_configmap(self, ns: str, name: str, data: dict[str, str]) -> None:
        base = self.data / "configmaps" / self._ns(ns) / name
        base.mkdir(parents=True, exist_ok=True)
        for key, value in data.items():
            (base / key).write_text(str(value))
        with self.lock:
            for wf in self.store.items("workflows"):
                if wf["status"].get("phase") in ("Pending", "Running"):
                    self._queue.add((wf["metadata"]["namespace"], wf["metadata"]["name"]))
            self._cond.notify()

    def configmap_value(self, ns: str, name: str, key: str) -> str | None:
        path = self.data / "configmaps" / self._ns(ns) / name / key
        return path.read_text() if path.is_file() else None

    # -- logs --------------------------------------------------------------------------

    def find_pod(self, wf: dict[str, Any], pod: str) -> tuple[str, dict[str, Any]] | None:
        for node in wf["status"].get("nodes", {}).values():
            if node.get("type") != "Pod":
                continue
            name = ids.pod_name(wf["metadata"]["name"], node["name"], node.get("templateName", ""))
            if pod in (name, node["id"]):
                return name, node
        return None

    def logs(
        self, ns: str, name: str, pod: str | None, follow: bool, tail: int | None
    ) -> Iterator[dict[str, str] | None]:
        """Log lines; a followed stream also yields None about once a second while quiet,
        so the caller can check its client is still there."""
        wf = self.get_workflow(ns, name)
        ns = self._ns(ns)
        if pod:
            found = self.find_pod(wf, pod)
            if found is None:
                raise ApiError(404, f'pods "{pod}" not found', "NotFound")
            pods = [found]
        else:
            pods = [
                (ids.pod_name(name, n["name"], n.get("templateName", "")), n)
                for n in sorted(
                    wf["status"]["nodes"].values(), key=lambda n: n.get("startedAt", "")
                )
                if n.get("type") == "Pod"
            ]
        return self._stream(ns, name, pods, follow, tail)

    def _stream(self, ns, name, pods, follow, tail) -> Iterator[dict[str, str] | None]:
        for pod, node in pods:
            path = self.log_path(ns, name, pod)
            yield from self._stream_one(path, pod, node["id"], ns, name, follow, tail)

    def _stream_one(
        self, path, pod, nid, ns, name, follow, tail
    ) -> Iterator[dict[str, str] | None]:
        pos = 0
        if tail is not None and path.exists():
            lines = path.read_bytes().splitlines(keepends=True)
            skip = sum(len(x) for x in lines[: max(0, len(lines) - tail)])
            pos = skip
        buf = b""
        quiet = 0
        while True:
            data = b""
            if path.exists():
                try:
                    with open(path, "rb") as fh:
                        fh.seek(pos)
                        data = fh.read()
                except OSError as exc:
                    raise ApiError(500, f"cannot read the log of {pod}: {exc}") from exc
                pos += len(data)
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                yield {"content": line.decode(errors="replace"), "podName": pod}
            if not follow:
                break
            with self.lock:
                wf = self.store.get("workflows", ns, name)
                node = (wf or {}).get("status", {}).get("nodes", {}).get(nid)
                running = node is not None and node.get("phase") not in DONE
                running = running or (ns, name, nid) in self.executor.running
            if not running and not data:
                break
            if not data:
                quiet += 1
                if quiet % 10 == 0:
                    yield None
                time.sleep(0.1)
        if buf:
            yield {"content": buf.decode(errors="replace"), "podName": pod}

    # -- artifacts ---------------------------------------------------------------------

    def artifact(self, wf: dict[str, Any], node_id: str, kind: str, art_name: str):
        node = wf["status"].get("nodes", {}).get(node_id)
        if node is None:
            raise ApiError(404, f"node {node_id} not found", "NotFound")
        section = node.get("outputs" if kind == "outputs" else "inputs") or {}
        for art in section.get("artifacts", []):
            if art["name"] != art_name:
                continue
            if "s3" in art and art["s3"].get("key"):
                try:
                    return self.repo.serve(art["s3"]["key"])
                except (ArtifactError, OSError) as exc:
                    raise ApiError(404, str(exc), "NotFound") from exc
            if "raw" in art:
                return art["raw"].get("data", "").encode(), art_name
            raise ApiError(404, f"artifact {art_name} has no stored copy", "NotFound")
        raise ApiError(404, f"artifact {art_name} not found in {kind} of {node_id}", "NotFound")

    # -- workflow templates -------------------------------------------------------------

    def put_template(self, kind: str, ns: str, tmpl: dict[str, Any], update: bool) -> dict:
        meta = tmpl.setdefault("metadata", {})
        with self.lock:
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise ApiError(400, "metadata.name is required")
                meta["name"] = meta["generateName"] + ids.random_suffix(str(uuid.uuid4()))
            existing = self.store.get(kind, ns, meta["name"])
            if existing is not None and not update:
                raise ApiError(409, f"{meta['name']} already exists", "AlreadyExists")
            if existing is None and update:
                raise ApiError(404, f"{meta['name']} not found", "NotFound")
            meta.setdefault(
                "uid", (existing or {}).get("metadata", {}).get("uid") or str(uuid.uuid4())
            )
            meta.setdefault("creationTimestamp", now_iso())
            if ns:
                meta["namespace"] = ns
            self.store.put(kind, ns, meta["name"], tmpl, now=True)
            return copy.deepcopy(tmpl)


def _ref_kind(ref: dict[str, Any]) -> str:
    return "clusterworkflowtemplates" if ref.get("clusterScope") else "workflowtemplates"


def scoped_to(tmpl: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    """A template taken from a WorkflowTemplate calls its siblings there, not the workflow's
    own templates: rewrite ``template: x`` in its tasks/steps to a templateRef."""

    def fix(task: dict[str, Any]) -> None:
        if task.get("template") and not task.get("templateRef"):
            task["templateRef"] = {**ref, "template": task.pop("template")}
        if task.get("inline"):
            scoped_to(task["inline"], ref)
        hook = (task.get("hooks") or {}).get("exit")
        if hook:
            fix(hook)

    for task in (tmpl.get("dag") or {}).get("tasks", []):
        fix(task)
    for group in tmpl.get("steps") or []:
        for step in group or []:
            fix(step)
    return tmpl


def memory_limit(resources: dict[str, Any] | None) -> list[str]:
    """The prefix that holds a step to its ``resources.limits.memory``: its data segment (heap
    and private mappings, RLIMIT_DATA) may not grow past the limit, so a step that needs more
    fails (Argo: OOMKilled) instead of taking the machine's memory."""
    raw = ((resources or {}).get("limits") or {}).get("memory")
    if raw is None:
        return []
    try:
        limit = parse_quantity(raw)
    except VolumeError:
        raise StepError(f"resources.limits.memory {raw!r} is not a quantity like 512Mi") from None
    if limit <= 0:
        raise StepError(f"resources.limits.memory {raw!r} must be more than 0")
    return ["prlimit", f"--data={limit}", "--"]


def run_note(tmpl: dict[str, Any], wf_spec: dict[str, Any] | None = None) -> str:
    """What the step's node says about what this machine did not do as a cluster would."""
    notes = []  # an image not used is said by image_note
    # Argo merges the workflow's nodeSelector/affinity into each pod's (the template's win)
    selector = {**((wf_spec or {}).get("nodeSelector") or {}), **(tmpl.get("nodeSelector") or {})}
    custom = sorted(f"{k}={v}" for k, v in selector.items() if k not in NODE_LABELS)
    if custom:
        notes.append(
            f"nodeSelector {', '.join(custom)} not enforced: this machine is the only node"
        )
    if tmpl.get("affinity") or (wf_spec or {}).get("affinity"):
        notes.append("affinity not enforced: this machine is the only node")
    return "; ".join(notes)


def image_note(image: str, why: str | None) -> str:
    """The note of a step whose image is not used (host executor), or "" when it is."""
    return f"image {image or '(none)'} not used: {why}" if why else ""


def parse_selector(selector: str):
    """A label selector: ``a=b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``."""
    reqs = []
    depth, cur = 0, ""
    for ch in selector or "":
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            reqs.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        reqs.append(cur.strip())
    tests = []
    for req in reqs:
        if " notin " in req or " in " in req:
            neg = " notin " in req
            key, _, rest = req.partition(" notin " if neg else " in ")
            values = {v.strip() for v in rest.strip().strip("()").split(",")}
            tests.append((key.strip(), "notin" if neg else "in", values))
        elif "!=" in req:
            key, _, val = req.partition("!=")
            tests.append((key.strip(), "!=", {val.strip()}))
        elif "==" in req or "=" in req:
            key, _, val = req.partition("==" if "==" in req else "=")
            tests.append((key.strip(), "in", {val.strip()}))
        elif req.startswith("!"):
            tests.append((req[1:].strip(), "absent", set()))
        else:
            tests.append((req, "exists", set()))

    def match(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        for key, op, values in tests:
            val = labels.get(key)
            if op == "in" and val not in values:
                return False
            if op in ("notin", "!=") and val in values:
                return False
            if op == "exists" and val is None:
                return False
            if op == "absent" and val is not None:
                return False
        return True

    return match


def override_parameters(spec: dict[str, Any], parameters: list[str]) -> None:
    """``NAME=VALUE`` strings replace (or add) workflow arguments, as Argo's resubmit/retry."""
    if not parameters:
        return
    given = [dict(zip(("name", "value"), p.split("=", 1), strict=True)) for p in parameters]
    names = {p["name"] for p in given}
    args = spec.setdefault("arguments", {})
    rest = [p for p in args.get("parameters") or [] if p["name"] not in names]
    args["parameters"] = given + rest


def _why(exc: Exception) -> str:
    """An output's read error as one line: the path, then why."""
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def failed(node: dict[str, Any]) -> bool:
    return node.get("phase") in FAILED


def seconds_since(text: str | None) -> float:
    ts = parse_iso(text)
    return 0.0 if ts is None else time.time() - ts
