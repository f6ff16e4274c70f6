"""Steps as containers: each step runs in its template's image with Podman (or Docker's CLI),
like a pod: its command/args, env, workingDir, volumes and artifact folders as binds, its CPU and
memory limits, the sandbox's user and network, a read-only root, ``--init``, explicit ulimits.

The interface is executor.py's ``Executor`` (start/kill/free_slots, exits reported to
``on_done``); only how a step is launched and stopped differs. Images are never pulled: one that
is not on this machine ends the step as a pod that cannot pull (ErrImagePull). A step killed for
memory ends as Kubernetes reports it (OOMKilled, exit 137): the runtime cannot say so on cgroups
v1 (``OOMKilled=false``), so each step gets its own parent cgroup whose memory peak (v1) or
``oom_kill`` count (v2) outlives the container. Stop, terminate and deadlines remove the
container by name. Containers outlive an engine that dies (as pods outlive Argo's controller):
when it starts again it takes back those of its running steps (their tickets, adoption.py),
follows their logs to the end and reads their exit codes; it removes the others. An engine
that stops on SIGTERM removes its containers (no step outlives it).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import queue
import re
import resource
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import adoption, gpus, stepcache
from .executor import Done, Executor, StepOptions, StepRun, _die_with_parent
from .sandbox import Sandbox, SandboxError
from .scheduler import parse_cpu, requests_of
from .volumes import VolumeError, parse_quantity

EXECUTORS = ("auto", "container", "host")
RUNTIMES = ("podman", "docker")
ENGINE_LABEL = "io.ydpipelines.engine"
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PARENT = "ydp"  # each step's parent cgroup: /ydp/<container name>
OOM_MARGIN = 1 << 20  # a v1 peak this close to the limit means the limit was hit
REAP_BATCH = 50  # ended containers removed by one `rm`
REAP_GATHER = 2.0  # seconds the reaper waits for more ended containers (a CLI call each)
IMAGE_SEEN_SECONDS = 300  # an image found present is not asked about again for this long
# Variables the container CLI itself reads: a step's value goes on its command line instead.
CLI_OWN = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "SHELL", "USER")
CLI_OWN_PREFIXES = ("XDG_", "CONTAINERS_", "CONTAINER_", "DOCKER_", "REGISTRY_", "BUILDAH_")
CLI_OWN_PREFIXES += ("STORAGE_", "PODMAN_", "CONMON", "LC_", "SSL_", "HTTP", "NO_PROXY")
# The engine's variables the cache's fill step gets: its way to a package index (never paths
# of the engine's machine, such as PIP_CERT: the step's image has other files).
FILL_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_RETRIES")
FILL_ENV += ("PIP_TIMEOUT", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
NAME_BAD = re.compile(r"[^a-zA-Z0-9_.-]+")


@dataclass
class Runtime:
    """A container CLI that works here: ``cli`` plus the global options it needs."""

    cli: str
    kind: str  # podman | docker
    global_args: list[str]
    cgroupfs: bool  # the cgroup manager is cgroupfs: a step's parent cgroup is a path we own

    def cmd(self, *args: str) -> list[str]:
        return [self.cli, *self.global_args, *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.cmd(*args), capture_output=True, text=True, timeout=timeout, env=cli_env()
        )


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The CLI's own environment: the engine's variables the CLI reads (PATH, HOME,
    CONTAINERS_CONF...), never the others (DATABASE_URL...), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if _cli_own(k)}
    env.update(extra or {})
    return env


def _cli_own(name: str) -> bool:
    return name in CLI_OWN or name.startswith(CLI_OWN_PREFIXES)


def find_runtime(name: str | None = None) -> Runtime | None:
    """The first container CLI that answers ``info`` (``name``, else $YDP_CONTAINER_CLI, else
    podman then docker), or None."""
    wanted = name or os.environ.get("YDP_CONTAINER_CLI")
    for candidate in [wanted] if wanted else RUNTIMES:
        path = shutil.which(candidate)
        if path is None:
            continue
        kind = "docker" if os.path.basename(path).startswith("docker") else "podman"
        # crun refuses cgroups v1 hybrid mode; runc works wherever it is installed
        extra = ["--runtime", "runc"] if kind == "podman" and shutil.which("runc") else []
        fmt = "{{.Host.CgroupManager}}" if kind == "podman" else "{{.CgroupDriver}}"
        rt = Runtime(path, kind, extra, False)
        try:
            done = rt.run("info", "--format", fmt, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            rt.cgroupfs = done.stdout.strip() == "cgroupfs"
            return rt
    return None


def make_executor(
    kind: str, max_parallel: int, on_done: Done, data: Path, options: StepOptions | None = None
) -> Executor:
    """The executor ``kind`` names: host, container, or auto (container when a runtime works).
    Raises SandboxError when it cannot be had."""
    if kind not in EXECUTORS:
        raise SandboxError(f"executor {kind!r} is not one of {', '.join(EXECUTORS)}")
    if kind != "host":
        rt = find_runtime()
        if rt is not None:
            return ContainerExecutor(rt, max_parallel, on_done, data, options)
        if kind == "container":
            raise SandboxError(
                "--executor container: no container runtime works here (install podman, "
                "or start Docker and set YDP_CONTAINER_CLI=docker)"
            )
    return Executor(max_parallel, on_done, options)


def resources(spec: dict[str, Any]) -> tuple[float | None, int | None, str]:
    """(cpus, memory bytes, memory as written) from limits, else requests."""
    res = spec.get("resources") or {}
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    cpu = limits.get("cpu", requests.get("cpu"))
    memory = limits.get("memory", requests.get("memory"))
    try:
        mem_bytes = parse_quantity(memory) if memory is not None else None
    except VolumeError:
        raise ValueError(f"memory {memory!r} is not a quantity such as 64Mi or 1G") from None
    return (parse_cpu(cpu) if cpu is not None else None), mem_bytes, str(memory or "")


def ulimits() -> list[str]:
    """Explicit ulimits: root here may lack CAP_SYS_RESOURCE, so the runtime's defaults (above
    the hard limit) would fail; at most the hard limits the engine has."""
    _, nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, nproc = resource.getrlimit(resource.RLIMIT_NPROC)
    nofile = 1048576 if nofile == resource.RLIM_INFINITY else min(nofile, 1048576)
    nproc = 32768 if nproc == resource.RLIM_INFINITY else min(nproc, 32768)
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


class ContainerExecutor(Executor):
    """Starts each step as a container, bounded by ``max_parallel``."""

    def __init__(
        self,
        runtime: Runtime,
        max_parallel: int,
        on_done: Done,
        data: Path,
        options: StepOptions | None = None,
    ) -> None:
        self.runtime = runtime
        self.data = Path(data)
        super().__init__(max_parallel, on_done, options)
        self.reaper: queue.SimpleQueue[str] = queue.SimpleQueue()
        threading.Thread(target=self._reap, daemon=True, name="reaper").start()
        # those of an engine that died are taken back or removed by recover(); one that stops
        # cleanly leaves none
        atexit.register(self.remove_leftovers)

    def configure(self, options: StepOptions) -> None:
        """The runtime makes the namespaces: no unshare, no shared network
        (executor.SharedNetwork); each container gets its own network."""
        box = Sandbox.configure(
            options.step_user,
            options.network,
            user_ns=os.geteuid() != 0,
            masked=list(options.masked),
        )
        if box.network == "host":
            raise SandboxError(
                "the container executor does not give steps the host's network "
                "(--step-network host): use outbound or none, or --executor host"
            )
        self.sandbox = box
        self.prefix = None
        self.network = None
        self.joining_prefix = None
        self.notes: list[str] = []
        if box.network == "none":
            self.net_mode = "none"
        elif self.runtime.kind == "docker":
            self.net_mode = "bridge"  # Docker's own; it has no slirp4netns
        elif box.slirp:
            self.net_mode = "slirp4netns"  # outbound without the host's loopback
        else:
            self.net_mode = "none"
            self.notes.append("sandbox: slirp4netns is not installed: this step has no network")
        self.engine_id = hashlib.sha1(str(self.data.resolve()).encode()).hexdigest()[:12]
        self.ulimits = ulimits()
        self.images_seen: dict[str, float] = {}  # image -> when it was last found present
        self.filled: set[str] = set()  # images whose notebook tools the cache has (or need none)
        dirs = tuple(options.cdi_dirs or gpus.DEFAULT_DIRS)
        try:
            self.devices = gpus.Devices(gpus.read_specs(dirs))
        except gpus.CdiError as exc:
            raise SandboxError(str(exc)) from None
        self.cdi_wrap = self._cdi_wrap(dirs)
        try:  # notebook tools an image lacks are installed once per machine (stepcache.py)
            self.cache: stepcache.StepCache | None = stepcache.prepare(self.data)
        except OSError as exc:
            self.cache = None
            self.notes.append(f"step cache unavailable ({exc}): each step installs on its own")

    def _cdi_wrap(self, dirs: tuple[str, ...]) -> list[str]:
        """What a GPU step's ``run`` goes through so that the runtime reads the CDI specs of
        ``dirs`` (it reads /etc/cdi and /var/run/cdi): nothing when those are the folders, or
        when the CLI takes ``--cdi-spec-dir``; else (Podman 4.3 has no such option) a mount
        namespace of its own in which a copy of the specs is bound over /var/run/cdi."""
        extra = [d for d in dirs if d not in gpus.DEFAULT_DIRS]
        if not extra or not any(self.devices.free.values()):
            return []
        if self.runtime.kind == "docker":
            raise SandboxError(
                "--cdi-spec-dir: Docker reads the CDI folders its daemon is configured with "
                "(cdi-spec-dirs in daemon.json): name them there"
            )
        said = self.runtime.run("--help").stdout
        if "--cdi-spec-dir" in said:
            for folder in dirs:
                self.runtime.global_args += ["--cdi-spec-dir", folder]
            return []
        if os.geteuid() != 0 or not shutil.which("unshare"):
            raise SandboxError(
                f"--cdi-spec-dir {' '.join(extra)}: {self.runtime.kind} here reads only "
                f"{' and '.join(gpus.DEFAULT_DIRS)}, and only an engine running as root can "
                "show it other folders there: put the specs in /etc/cdi"
            )
        merged = self.data / "cdi"
        shutil.rmtree(merged, ignore_errors=True)
        merged.mkdir(parents=True)
        for folder in dirs:
            if folder == "/etc/cdi" or not Path(folder).is_dir():
                continue  # /etc/cdi stays in view
            for spec in Path(folder).iterdir():
                if spec.suffix in (".json", ".yaml", ".yml"):
                    shutil.copyfile(spec, merged / f"{len(list(merged.iterdir()))}-{spec.name}")
        Path("/var/run/cdi").mkdir(parents=True, exist_ok=True)  # where the copy is bound
        bind = 'mount --bind "$0" /var/run/cdi && exec "$@"'
        return ["unshare", "--mount", "--propagation", "slave", "sh", "-c", bind, str(merged)]

    def describe(self) -> str:
        return f"container ({self.runtime.kind}, network {self.net_mode})"

    # -- names -----------------------------------------------------------------------

    def container_name(self, run: StepRun) -> str:
        """The Argo pod name, made safe, plus a tag of this engine and namespace (several
        engines, and namespaces, may share a runtime)."""
        tag = hashlib.sha1(f"{self.engine_id}/{run.key[0]}".encode()).hexdigest()[:8]
        pod = NAME_BAD.sub("-", run.pod or run.key[2]).strip("-._")[:200] or "step"
        return f"{pod}-{tag}"

    def remove_leftovers(self, keep: frozenset[str] = frozenset()) -> None:
        """Remove this engine's containers but those named in ``keep``."""
        names = [n for n in self._ours() if n not in keep]
        if names:
            self._rm(*names)
            for name in names:
                self._drop_cgroup(name)

    def _rm(self, *names: str, timeout: float = 60) -> None:
        """Remove these containers, running or not, those that are gone ignored (Podman 4.3
        removes none of the names when one is missing, unless told to ignore it)."""
        ignore = ["--ignore"] if self.runtime.kind == "podman" else []
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self.runtime.run("rm", "-f", *ignore, "--time", "0", *names, timeout=timeout)

    def _ours(self) -> list[str]:
        """The names of this engine's containers, running or not."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            found = self.runtime.run(
                "ps",
                "-a",
                "--format",
                "{{.Names}}",
                "--filter",
                f"label={ENGINE_LABEL}={self.engine_id}",
            )
            if found.returncode == 0:
                return found.stdout.split()
        return []

    def recover(self, tickets: dict[tuple[str, str, str], Path]) -> set[tuple[str, str, str]]:
        """After a restart: take back the containers of the steps in ``tickets`` (the running
        steps of live workflows, by key) that still exist; remove every other container of
        this engine. Returns the keys taken back; their ends reach ``on_done`` as usual."""
        present = set(self._ours())
        adopted: dict[tuple[str, str, str], tuple[StepRun, int]] = {}
        for key, path in tickets.items():
            loaded = adoption.load(path)
            if loaded is None or loaded[0].key != key:
                continue
            if self.container_name(loaded[0]) in present:
                adopted[key] = loaded
        self.remove_leftovers(frozenset(self.container_name(r) for r, _ in adopted.values()))
        for key, (run, offset) in adopted.items():
            self.devices.hold(run.devices)
            with self.lock:
                self.running[key] = run
            threading.Thread(
                target=self._follow, args=(run, offset), daemon=True, name="adopted"
            ).start()
        return set(adopted)

    # -- the command line ------------------------------------------------------------

    def command(self, run: StepRun) -> tuple[list[str], dict[str, str]]:
        """The CLI's argv and environment for ``run``. Raises ValueError with the reason when
        the step cannot be expressed."""
        spec = run.spec
        name = self.container_name(run)
        ns, wf, node_id = run.key
        # no --rm: an exited container keeps its exit code and logs until the engine has read
        # them, even across an engine restart (recover)
        argv = self._confined(name)
        if self.runtime.kind == "podman":
            argv += ["--log-driver", "k8s-file"]  # `podman logs` after a restart reads it
        argv += ["--label", f"workflows.argoproj.io/workflow={wf}"]
        argv += ["--label", f"io.ydpipelines.node={node_id}", "--label", f"io.ydpipelines.ns={ns}"]
        argv += ["--hostname", name[:63].rstrip("-._")]
        if spec.get("tty"):  # as a pod's container with `tty: true`: stdin and stdout a terminal
            argv += ["--tty"]
        cpus, memory, _ = resources(spec)
        if cpus is not None:
            argv += ["--cpus", f"{cpus:g}"]
        if memory is not None:
            argv += ["--memory", str(memory), "--memory-swap", str(memory)]  # no swap, as a pod
            if self.runtime.cgroupfs:  # only a memory kill needs it (_limit_hit); it costs
                argv += ["--cgroup-parent", f"/{CGROUP_PARENT}/{name}"]
        argv += ["--workdir", run.cwd]
        argv += ["--volume", f"{_bindable(str(run.tmp_dir))}:/tmp"]
        if self.cache is not None:
            argv += self.cache.volumes()
        for device in run.devices:
            argv += ["--device", device]  # a GPU by its CDI name
        fs = run.fs
        for m in fs.mounts if fs is not None else []:
            target = _bindable(m.path)
            if m.memory:
                options = next(
                    (o for f, o in fs.staging if m.source == f or m.source.is_relative_to(f)),
                    "mode=1777",
                )
                argv += ["--tmpfs", f"{target}:{options}"]
            else:
                ro = ":ro" if m.read_only else ""
                argv += ["--volume", f"{_bindable(str(m.source))}:{target}{ro}"]
        env = cli_env()
        for key, value in run.env.items():
            if _cli_own(key):
                argv += ["--env", f"{key}={value}"]  # the CLI must keep its own value
            else:
                argv += ["--env", key]  # the value from the CLI's environment: not in `ps`
                env[key] = value
        image = spec.get("image", "")
        if spec.get("command") or "source" in spec:
            argv += ["--entrypoint", run.argv[0], image, *run.argv[1:]]
        else:
            argv += [image, *[str(a) for a in spec.get("args") or []]]  # the image's entrypoint
        wrap = self.cdi_wrap if run.devices else []
        return [*wrap, *self.runtime.cmd(*argv)], env

    def _confined(self, name: str) -> list[str]:
        """``run`` options every container of this engine gets: its name and label, the image
        as it is here, a read-only root, no capabilities, the sandbox's user and network."""
        argv = ["run", "--name", name, "--pull", "never", "--init"]
        argv += ["--label", f"{ENGINE_LABEL}={self.engine_id}"]
        argv += ["--read-only", "--tmpfs", "/var/tmp:mode=1777", "--tmpfs", "/run:mode=755"]
        argv += ["--cap-drop", "all", "--security-opt", "no-new-privileges"]
        argv += ["--network", self.net_mode, *self.ulimits]
        if self.sandbox.uid is not None:
            argv += ["--user", f"{self.sandbox.uid}:{self.sandbox.gid}"]
        return argv

    def _fill_cache(self, run: StepRun, log) -> None:
        """Before a notebook step in an image not filled yet: the trusted fill step
        (stepcache.py), its output in the step's log. The step goes on whatever it says (with
        the tools cached, or installing them for itself)."""
        image = run.spec.get("image", "")
        if self.cache is None or image in self.filled:
            return
        if not stepcache.needs_notebook_tools(run.argv):
            return
        argv = self._confined(f"{self.container_name(run)}-fill")
        argv += ["--rm", "--tmpfs", "/tmp:mode=1777", *self.cache.fill_volumes()]
        env = cli_env()
        for key, value in os.environ.items():  # the engine's way to a package index
            if key.upper() in FILL_ENV and not _cli_own(key):
                argv += ["--env", key]
                env[key] = value
            elif key.upper() in FILL_ENV:
                argv += ["--env", f"{key}={value}"]
        argv += ["--entrypoint", stepcache.FILL[0], image, *stepcache.FILL[1:]]
        run.proc = subprocess.Popen(
            self.runtime.cmd(*argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._pump(run, log)
        code = run.proc.wait()
        run.proc = None
        run.stdout.clear()  # the step's own stdout is its result
        if code == 0:
            self.filled.add(image)
        elif not run.kill_reason:
            log.write(f"the step cache's fill step ended with exit code {code}\n".encode())

    # -- running ---------------------------------------------------------------------

    def _stop(self, run: StepRun) -> None:
        threading.Thread(target=self._remove, args=(run,), daemon=True, name="rm").start()

    def _remove(self, run: StepRun, seconds: float = 60) -> None:
        """Remove the step's container until its ``run`` process ends (the container may not
        exist yet when the kill comes during start-up)."""
        name = self.container_name(run)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._rm(name, f"{name}-fill", timeout=30)
            proc = run.proc
            if proc is None and run.key not in self.running:
                return
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(1)
                    return
            else:
                time.sleep(0.2)

    def image_missing(self, image: str) -> str | None:
        """Why ``image`` cannot run here (as Kubernetes says it), or None when it is present."""
        if not image:
            return "InvalidImageName: the template names no image"
        if time.monotonic() - self.images_seen.get(image, -IMAGE_SEEN_SECONDS) < IMAGE_SEEN_SECONDS:
            return None  # `run --pull never` still fails, with the CLI's words, if it went
        try:
            done = self.runtime.run("image", "inspect", "--format", "{{.Id}}", image)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"ErrImagePull: cannot ask {self.runtime.kind} about image {image}: {exc}"
        if done.returncode == 0:
            self.images_seen[image] = time.monotonic()
            return None
        return (
            f'ImagePullBackOff: Back-off pulling image "{image}": ErrImagePull: image {image} '
            f"is not on this machine and the engine does not pull images; build or load it "
            f"with {self.runtime.kind} (see images/README.md)"
        )

    def _run(self, run: StepRun) -> None:
        run.log_path.parent.mkdir(parents=True, exist_ok=True)
        code = -1
        error: str | None = None
        name = self.container_name(run)
        started = False
        with open(run.log_path, "ab", buffering=0) as log:
            error = self._begin(run, log, self.notes)
            if not error and not run.kill_reason:
                error = self.image_missing(run.spec.get("image", ""))
            if not error and not run.kill_reason:
                try:
                    run.devices = self.devices.take(requests_of(run.spec))
                except (gpus.CdiError, ValueError) as exc:
                    error = str(exc)
                    log.write(f"{error}\n".encode())
            if not error and not run.kill_reason:
                try:
                    self._fill_cache(run, log)
                except OSError as exc:
                    log.write(f"the step cache's fill step did not start: {exc}\n".encode())
            if not error and not run.kill_reason:
                try:
                    argv, env = self.command(run)
                    adoption.save(run, log.tell())
                    run.proc = subprocess.Popen(
                        argv,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        env=env,
                        cwd=run.tmp_dir.parent,  # conmon leaves files (`oom`) in its cwd
                        start_new_session=True,
                        preexec_fn=_die_with_parent,
                    )
                    started = True
                except (ValueError, OSError) as exc:
                    error = str(exc)
                    log.write(f"{error}\n".encode())
            if started:
                assert run.proc is not None
                self._pump(run, log)
                code = run.proc.wait()
                if code == 137 and not run.kill_reason:
                    oom = self._oom_message(run, name)
                    if oom:
                        run.kill_reason = oom
                        log.write(f"{oom}\n".encode())
        self._finish(run, code, error, started)

    def _finish(self, run: StepRun, code: int, error: str | None, started: bool) -> None:
        """Report the step's end; its container and cgroup go afterwards, off the step's path
        (the reaper). A stopped step's container is removed first: stop means removed."""
        name = self.container_name(run)
        if started and run.kill_reason:
            self._remove(run, seconds=30)
        with contextlib.suppress(OSError):
            adoption.ticket_path(run).unlink()  # from here a restart removes the container
        self.devices.give_back(run.devices)
        run.devices = []
        with self.lock:
            self.running.pop(run.key, None)
        try:
            self.on_done(run, code, error or run.kill_reason)
        finally:
            self.reaper.put(name)

    def _reap(self) -> None:
        """Remove ended steps' containers and cgroups, all those ended meanwhile with one CLI
        call (a CLI start costs about as much CPU as a container start)."""
        while True:
            names = [self.reaper.get()]
            with contextlib.suppress(queue.Empty):  # those that end soon after go along
                while len(names) < REAP_BATCH:
                    names.append(self.reaper.get(timeout=REAP_GATHER))
            self._rm(*names)
            for name in names:
                self._drop_cgroup(name)

    def _follow(self, run: StepRun, offset: int) -> None:
        """A step taken back after a restart: its log is rewritten from where the container's
        output began with all of it (`logs -f`, until it exits), then its exit code is read."""
        name = self.container_name(run)
        code = -1
        error: str | None = None
        try:
            with open(run.log_path, "r+b", buffering=0) as log:
                log.truncate(offset)
                log.seek(offset)
                run.proc = subprocess.Popen(
                    self.runtime.cmd("logs", "-f", name),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=cli_env(),
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
                self._pump(run, log)
                run.proc.wait()
                if not run.kill_reason:
                    done = self.runtime.run("wait", name, timeout=None)
                    code = int(done.stdout.strip().splitlines()[-1])
                if code == 137 and not run.kill_reason:
                    oom = self._oom_message(run, name)
                    if oom:
                        run.kill_reason = oom
                        log.write(f"{oom}\n".encode())
        except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
            error = f"step container lost after the engine restarted: {exc}"
        self._finish(run, code, error, started=True)

    # -- memory kills ----------------------------------------------------------------

    def _oom_message(self, run: StepRun, name: str) -> str | None:
        """The node's message when exit 137 was the memory limit, else None."""
        try:
            _, limit, written = resources(run.spec)
        except ValueError:
            return None
        if limit is None:
            return None
        hit = self._limit_hit(name, limit)
        if hit is False:
            return None
        return f"OOMKilled (exit code 137): the step needed more than its memory limit {written}"

    def _limit_hit(self, name: str, limit: int) -> bool | None:
        """From the step's parent cgroup: v2 counts OOM kills below it; v1 keeps the peak
        usage. None when neither can be read (then exit 137 under a limit is taken as one)."""
        rel = Path(CGROUP_PARENT) / name
        with contextlib.suppress(OSError, ValueError):
            events = (CGROUP_ROOT / rel / "memory.events").read_text()
            counts = dict(line.split() for line in events.splitlines() if line.strip())
            return int(counts.get("oom_kill", 0)) > 0
        with contextlib.suppress(OSError, ValueError):
            peak = int((CGROUP_ROOT / "memory" / rel / "memory.max_usage_in_bytes").read_text())
            return peak >= limit - OOM_MARGIN
        return None

    def _drop_cgroup(self, name: str) -> None:
        """Remove the step's (empty) parent cgroup in every hierarchy."""
        if not self.runtime.cgroupfs:
            return
        rel = Path(CGROUP_PARENT) / name
        tops = [CGROUP_ROOT / rel]
        with contextlib.suppress(OSError):
            tops += [h / rel for h in CGROUP_ROOT.iterdir() if h.is_dir()]
        for top in tops:
            if not top.is_dir():
                continue
            for folder, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
                with contextlib.suppress(OSError):
                    os.rmdir(folder)


def _bindable(path: str) -> str:
    """A path as a ``--volume``/``--tmpfs`` part: ':' and ',' would be read as options."""
    if ":" in path or "," in path:
        raise ValueError(f"path {path} cannot be mounted in a container (':' or ',' in it)")
    return path
