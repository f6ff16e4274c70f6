"""Steps as local processes: one process group per step, in namespaces made by ``unshare``
(mount, pid, network) where mountns.py mounts its private /tmp and volumes (a private root
from a plan of volumes.py when it has volumes) and confines it as sandbox.py says;
stdout+stderr streamed to the step's log file."""

from __future__ import annotations

import contextlib
import ctypes
import marshal
import os
import select
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .network import NetworkError, SharedNetwork
from .sandbox import Sandbox
from .volumes import StepFS

SHIMS = Path(__file__).with_name("shims")
MOUNTNS = Path(__file__).with_name("mountns.py")
RESULT_LIMIT = 256 * 1024  # Argo caps outputs.result too
PARTIAL_LIMIT = 16 * 1024  # a line longer than this goes to the log in parts (as in Kubernetes)
SLIRP_SECONDS = 5  # how long a step waits for its outbound network


def helper_program() -> str:
    """mountns.py as a ``python -c`` program: its code compiled once per engine (docstrings
    stripped) and handed over marshalled. A script file is compiled again at every run (the
    main script never gets a .pyc): 1.5 ms of CPU a step; this costs a 35 KB argument."""
    code = compile(MOUNTNS.read_bytes(), str(MOUNTNS), "exec", optimize=2)
    return f"import marshal;exec(marshal.loads(bytes.fromhex('{marshal.dumps(code).hex()}')))"


def _probe(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def namespace_prefix(extra: list[str] | None = None) -> list[str] | None:
    """The ``unshare`` command line that works on this machine, or None."""
    if not shutil.which("unshare"):
        return None
    base = ["--mount", "--pid", *(extra or []), "--fork", "--kill-child=SIGKILL"]
    for extra in ([], ["--user", "--map-root-user"]):
        cmd = ["unshare", *extra, *base]
        if _probe([*cmd, "--", "sh", "-c", "mount --bind /tmp /tmp"]):
            return cmd
    return None


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: the step dies with the engine (the restart then marks it lost).
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def death_prefix() -> list[str] | None:
    """``setpriv --pdeathsig KILL``: PR_SET_PDEATHSIG set in the exec chain rather than by a
    ``preexec_fn``, with which Popen must fork the whole engine (its memory and threads: tens
    of milliseconds a step at thousands of nodes) where it can vfork otherwise. None where
    setpriv lacks the option: then the preexec_fn."""
    if not shutil.which("setpriv"):
        return None
    cmd = ["setpriv", "--pdeathsig", "KILL", "--"]
    return cmd if _probe([*cmd, "true"]) else None


@dataclass
class StepRun:
    key: tuple[str, str, str]  # (namespace, workflow, node id)
    argv: list[str]
    env: dict[str, str]
    tmp_dir: Path
    cwd: str  # as the step sees it (may be under /tmp)
    log_path: Path
    proc: subprocess.Popen | None = None
    started: float = 0.0
    kill_reason: str | None = None
    stdout: bytearray = field(default_factory=bytearray)
    prepare: Callable[[], None] | None = None  # places input artifacts, in the step's thread
    outputs: dict = field(default_factory=dict)  # the template's declared outputs
    pod: str = ""
    fs: StepFS | None = None  # container paths -> host paths (/tmp and the volumes)
    mount_plan: dict | None = None  # volumes to mount (mountns.py); None: a private /tmp only
    spec: dict = field(default_factory=dict)  # container/script, substituted (containers.py)
    devices: list[str] = field(default_factory=list)  # CDI names of its GPUs (gpus.py)


class _Skip(Exception):
    pass


Done = Callable[[StepRun, int, str | None], None]


@dataclass(frozen=True)
class StepOptions:
    """How steps are confined, whichever executor runs them: ``step_user`` and ``network`` as
    sandbox.py reads them, ``masked`` folders hidden from steps, ``network_log`` where the host
    executor's shared slirp4netns writes (network.py), ``cdi_dirs`` where the container executor
    finds the machine's CDI device specs (gpus.py)."""

    step_user: str | None = None
    network: str | None = None
    masked: tuple[str, ...] = ()
    network_log: Path | None = None
    cdi_dirs: tuple[str, ...] | None = None  # None: the CDI defaults (/etc/cdi, /var/run/cdi)


class Executor:
    """Starts step processes, bounded by ``max_parallel``; reports each exit to ``on_done``.
    Subclasses (containers.py) change how a step is confined (``configure``) and run."""

    death: list[str] | None = None  # death_prefix(), where configure found it works

    def __init__(
        self, max_parallel: int, on_done: Done, options: StepOptions | None = None
    ) -> None:
        self.max_parallel = max_parallel
        self.on_done = on_done
        self.running: dict[tuple[str, str, str], StepRun] = {}
        self.lock = threading.Lock()
        self.options = options or StepOptions()
        self.configure(self.options)  # raises SandboxError on an option this machine refuses

    def configure(self, options: StepOptions) -> None:
        """The host executor's confinement: ``unshare`` namespaces and the sandbox's rules."""
        masked = list(options.masked)
        box = Sandbox.configure(options.step_user, options.network, masked=masked)
        self.prefix = namespace_prefix(box.unshare_flags())
        self.death = death_prefix()
        self.helper = helper_program()
        if self.prefix is not None and "--user" in self.prefix:
            box = Sandbox.configure(options.step_user, options.network, user_ns=True, masked=masked)
        self.sandbox = box
        self.notes = box.notes
        # as root, every step joins one network (network.py); in a user namespace a step could
        # not join it, so there each step keeps its own, with its own slirp4netns
        self.network: SharedNetwork | None = None
        self.joining_prefix: list[str] | None = None
        if box.slirp and self.prefix is not None and "--user" not in self.prefix:
            log = options.network_log or Path(os.devnull)
            self.network = SharedNetwork(box.slirp, log)
            self.joining_prefix = [a for a in self.prefix if a != "--net"]

    def stop(self) -> None:
        """Stop what outlives single steps (the shared network)."""
        if self.network is not None:
            self.network.stop()

    def free_slots(self) -> int:
        with self.lock:
            return self.max_parallel - len(self.running)

    def start(self, run: StepRun) -> bool:
        with self.lock:
            if len(self.running) >= self.max_parallel or run.key in self.running:
                return False
            self.running[run.key] = run
        threading.Thread(target=self._run, args=(run,), daemon=True, name="step").start()
        return True

    def kill(self, key: tuple[str, str, str], reason: str) -> bool:
        with self.lock:
            run = self.running.get(key)
        if run is None:
            return False
        run.kill_reason = reason
        self._stop(run)
        return True

    def _stop(self, run: StepRun) -> None:
        """End a running step at once (its end still reaches ``on_done``)."""
        proc = run.proc
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def _command(self, run: StepRun, wait_fd: int | None, netns_fd: int | None) -> list[str]:
        if self.prefix is None:
            raise OSError(
                "cannot give the step a private /tmp: `unshare --mount` is unavailable here "
                "(run the engine as root or enable unprivileged user namespaces)"
            )
        plan = dict(run.mount_plan or {"ops": [["bind", str(run.tmp_dir), "/tmp"]]})
        plan.setdefault("cwd", run.cwd)
        # before the plan's own: a private root is populated from / with it, and the file is
        # still reachable (the engine's data may be under /tmp, which the plan covers)
        slirp = wait_fd is not None or netns_fd is not None
        resolv = self.sandbox.resolv_ops(run.tmp_dir.parent) if slirp else []
        plan["ops"] = [*self.sandbox.pre_ops(), *resolv, *plan["ops"]]
        plan["sandbox"] = self.sandbox.settings(run.fs, wait_fd, netns_fd)
        path = run.tmp_dir.parent / "sandbox.plan"
        path.write_bytes(marshal.dumps(plan))  # mountns.py reads it without importing json
        helper = [sys.executable, "-I", "-S", "-c", self.helper, str(path), "--"]
        prefix = self.joining_prefix if netns_fd is not None else self.prefix
        assert prefix is not None
        return [*(self.death or []), *prefix, "--", *helper, *run.argv]

    @staticmethod
    def _begin(run: StepRun, log, notes: list[str]) -> str | None:
        """Start the step's clock, place its inputs, write the executor's notes to its log;
        why the step cannot run, or None."""
        run.started = time.time()
        error = None
        try:
            if run.prepare is not None:
                run.prepare()
        except Exception as exc:  # any failure to place inputs errors the step, with why
            error = f"failed to load input artifacts: {exc}"
            log.write(f"{error}\n".encode())
        for note in notes:
            log.write(f"{note}\n".encode())
        return error

    def _run(self, run: StepRun) -> None:
        run.log_path.parent.mkdir(parents=True, exist_ok=True)
        code = -1
        error: str | None = None
        with open(run.log_path, "ab", buffering=0) as log:
            error = self._begin(run, log, self.notes)
            slirp = None
            netns = self._join(log) if self.network is not None and not error else None
            own_slirp = self.sandbox.slirp and self.network is None
            go_r, go_w = os.pipe() if own_slirp else (None, None)
            # `tty: true`: the step's stdin is a terminal (`[ -t 0 ]`), one nobody types into;
            # its output stays the log's pipes
            tty, tty_in = os.openpty() if run.spec.get("tty") else (None, None)
            try:
                if error:
                    raise _Skip
                run.proc = subprocess.Popen(
                    self._command(run, go_r, netns),
                    stdin=subprocess.DEVNULL if tty_in is None else tty_in,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=run.env,
                    start_new_session=True,
                    preexec_fn=None if self.death else _die_with_parent,
                    pass_fds=tuple(fd for fd in (go_r, netns) if fd is not None),
                )
            except _Skip:
                pass
            except OSError as exc:
                error = str(exc)
                log.write(f"{error}\n".encode())
            else:
                if run.kill_reason:  # stopped between slot and spawn
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(run.proc.pid, signal.SIGKILL)
                if go_w is not None:
                    slirp = self._outbound(run.proc.pid, log, run.tmp_dir.parent / "slirp.log")
                    os.write(go_w, b"1")  # the step goes on, with or without its network
                self._pump(run, log)
                code = run.proc.wait()
            finally:
                for fd in (go_r, go_w, netns, tty, tty_in):
                    if fd is not None:
                        os.close(fd)
                if slirp is not None:
                    os.close(slirp[1])  # slirp4netns exits
                    slirp[0].wait()
        with self.lock:
            self.running.pop(run.key, None)
        self.on_done(run, code, error or run.kill_reason)

    def _join(self, log) -> int | None:
        """A descriptor of the shared network for one step; None (the step then gets a network
        of its own, loopback only) and a line in its log when it cannot be started."""
        assert self.network is not None
        try:
            return self.network.join_fd()
        except NetworkError as exc:
            log.write(f"sandbox: no network for this step: {exc}\n".encode())
            return None

    def _outbound(self, pid: int, log, errors: Path) -> tuple[subprocess.Popen, int] | None:
        """Give the step's network namespace (that of ``unshare``, ``pid``) a way out without
        the host's loopback: slirp4netns and the fd whose closing stops it (it also stops when
        the engine dies). None, and a line in the log, when that fails."""
        assert self.sandbox.slirp is not None
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + SLIRP_SECONDS
        ready_r, ready_w = os.pipe()
        exit_r, exit_w = os.pipe()
        slirp = None
        try:
            # slirp4netns must join the step's namespace, never the engine's (before unshare ran)
            while os.readlink(f"/proc/{pid}/ns/net") == own:
                if time.monotonic() > deadline:
                    raise OSError("the step's network namespace did not appear")
                time.sleep(0.0005)
            with open(errors, "wb") as err:
                # no preexec_fn: Popen then spawns without forking the whole engine
                slirp = subprocess.Popen(
                    [
                        self.sandbox.slirp,
                        "--configure",
                        "--mtu=65520",
                        "--disable-host-loopback",
                        f"--ready-fd={ready_w}",
                        f"--exit-fd={exit_r}",
                        str(pid),
                        "tap0",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=err,
                    stderr=err,
                    pass_fds=(ready_w, exit_r),
                )
            os.close(ready_w)
            ready_w = -1
            ready, _, _ = select.select([ready_r], [], [], SLIRP_SECONDS)
            if ready and os.read(ready_r, 1) == b"1":
                return slirp, exit_w
            said = errors.read_text(errors="replace").strip().splitlines()
            raise OSError(said[-1] if said else "it did not answer")
        except OSError as exc:
            log.write(f"sandbox: no network for this step: slirp4netns: {exc}\n".encode())
            if slirp is not None:
                slirp.kill()
                slirp.wait()
            os.close(exit_w)
            return None
        finally:
            for fd in (ready_r, ready_w, exit_r):
                if fd >= 0:
                    os.close(fd)

    def _pump(self, run: StepRun, log) -> None:
        """Copy stdout and stderr into the log as the process writes them. Whole lines go in at
        once; the start of a line waits for its end (or PARTIAL_LIMIT bytes, or the stream's
        end), so a line of one stream is not cut in two by a line of the other."""
        assert run.proc is not None and run.proc.stdout and run.proc.stderr
        sel = selectors.DefaultSelector()
        sel.register(run.proc.stdout, selectors.EVENT_READ, "out")
        sel.register(run.proc.stderr, selectors.EVENT_READ, "err")
        pending = {"out": b"", "err": b""}
        open_streams = 2
        while open_streams:
            for key, _ in sel.select():
                name = key.data
                chunk = os.read(key.fileobj.fileno(), 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    log.write(pending[name])
                    pending[name] = b""
                    continue
                if name == "out" and len(run.stdout) < RESULT_LIMIT:
                    run.stdout.extend(chunk[: RESULT_LIMIT - len(run.stdout)])
                data = pending[name] + chunk
                cut = len(data) if len(data) >= PARTIAL_LIMIT else data.rfind(b"\n") + 1
                if cut:
                    log.write(data[:cut])
                pending[name] = data[cut:]
        sel.close()


def step_path(extra: list[str] | None = None) -> str:
    """PATH for a step: our shims, the engine's own interpreter, then the host's PATH."""
    parts = [str(SHIMS), os.path.dirname(sys.executable), *(extra or [])]
    parts.append(os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
    return os.pathsep.join(parts)


# Images whose `sh` is busybox ash (alpine, busybox, and the bash image, built on alpine): on
# the host their `sh` is shims/ash/sh, a shell with ash's `${RANDOM}` and `[[ ]]`
ASH_IMAGES = ("alpine", "busybox", "bash")


def image_shell_dirs(image: str) -> list[str]:
    """Folders to put before the host's PATH so `sh` is the image's shell (step_path)."""
    name = image.rsplit("/", 1)[-1].split(":")[0].split("@")[0]
    return [str(SHIMS / "ash")] if name.startswith(ASH_IMAGES) else []


PYTHON_IMAGES = ("python", "jupyter", "quay.io/jupyter", "continuumio", "tensorflow", "pytorch")
SHELL_IMAGES = ("alpine", "busybox", "ubuntu", "debian", "bash", "centos", "fedora")


def runtime_for(image: str) -> str:
    """How an image maps to this machine: 'python', 'shell', 'argosay' or 'host'."""
    name = image.rsplit("/", 1)[-1].split(":")[0].split("@")[0]
    if name == "argosay":
        return "argosay"
    if image.startswith(PYTHON_IMAGES) or name.startswith(("python", "jupyter", "pytorch")):
        return "python"
    if name.startswith(SHELL_IMAGES):
        return "shell"
    return "host"
