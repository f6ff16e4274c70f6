"""Steps as local processes: one process group per step, in namespaces (mount, pid, network)
made by the step launcher (launcher.py; by ``unshare`` where it cannot run) where mountns.py
mounts its private /tmp and volumes (a private root from a plan of volumes.py when it has
volumes) and confines it as sandbox.py says; stdout+stderr streamed to the step's log file."""

from __future__ import annotations

import array
import contextlib
import ctypes
import itertools
import marshal
import os
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .network import NetworkError, SharedNetwork
from .sandbox import Sandbox
from .volumes import StepFS

SHIMS = Path(__file__).with_name("shims")
MOUNTNS = Path(__file__).with_name("mountns.py")
LAUNCHER = Path(__file__).with_name("launcher.py")
CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
RESULT_LIMIT = 256 * 1024  # Argo caps outputs.result too
PARTIAL_LIMIT = 16 * 1024  # a line longer than this goes to the log in parts (as in Kubernetes)
SLIRP_SECONDS = 5  # how long a step waits for its outbound network


def helper_program() -> str:
    """mountns.py as a ``python -c`` program: its code compiled once per engine (docstrings
    stripped) and handed over marshalled. A script file is compiled again at every run (the
    main script never gets a .pyc): 1.5 ms of CPU a step; this costs a 35 KB argument."""
    code = compile(MOUNTNS.read_bytes(), str(MOUNTNS), "exec", optimize=2)
    return f"import marshal;exec(marshal.loads(bytes.fromhex('{marshal.dumps(code).hex()}')))"


def _compiled(path: Path) -> str:
    return marshal.dumps(compile(path.read_bytes(), str(path), "exec", optimize=2)).hex()


def launcher_program() -> str:
    """launcher.py, with mountns.py's code beside it, as a ``python -I -S -c`` program whose
    argument is the descriptor of its socket."""
    return (
        "import marshal,sys\n"
        f"m={{'__name__':'mountns'}};exec(marshal.loads(bytes.fromhex('{_compiled(MOUNTNS)}')),m)\n"
        f"g={{'__name__':'launcher'}};exec(marshal.loads(bytes.fromhex('{_compiled(LAUNCHER)}')),g)\n"
        "g['serve'](int(sys.argv[1]),m)\n"
    )


class LauncherGone(Exception):
    """The step launcher is not running (any more): the step starts the old way."""


class LaunchedStep:
    """A step started by the launcher, read as a Popen: ``pid`` (its process group),
    ``stdout`` and ``stderr`` (the engine's ends of its pipes), ``wait()``."""

    def __init__(self) -> None:
        self.pid = 0
        self.rid = 0
        self.launcher: StepLauncher | None = None
        self.stdout = self.stderr = None
        self.returncode: int | None = None
        self.error: str | None = None
        self.started = threading.Event()
        self.ended = threading.Event()

    def kill(self) -> None:
        """SIGKILL the step's process group (through the launcher, while it has not reaped it)."""
        if self.launcher is not None and self.returncode is None:
            self.launcher.kill(self.rid)

    def wait(self) -> int:
        self.ended.wait()
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        assert self.returncode is not None
        return self.returncode


_LAUNCHERS: weakref.WeakSet[StepLauncher] = weakref.WeakSet()


class StepLauncher:
    """The engine's end of launcher.py: one process, started once, that forks each step (a
    fresh interpreter per step was most of its start-up CPU). Thread-safe."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", launcher_program(), str(theirs.fileno())],
                # steps get the engine's environment for them, never the engine's own
                env={"PATH": os.environ.get("PATH", os.defpath)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,  # the terminal's ^C is the engine's, not its steps'
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        self.lock = threading.Lock()  # the steps' table (never held while sending)
        self.send_lock = threading.Lock()  # one message at a time, with its descriptors
        self.ids = itertools.count(1)
        self.steps: dict[int, LaunchedStep] = {}
        self.alive = True
        self.closing = False
        self.served = False  # it has started a step (one that never does is not tried again)
        _LAUNCHERS.add(self)
        threading.Thread(target=self._read, daemon=True, name="step-launcher").start()

    def spawn(
        self, plan: Path, flags: int, fds: dict[int, int], stdin: int | None = None
    ) -> LaunchedStep:
        """Start the step of ``plan`` (its argv and env in it) in namespaces ``flags``, with
        ``fds`` (number in the step -> descriptor here) passed; stdin ``/dev/null`` unless
        given. Raises LauncherGone, or OSError when the fork failed."""
        step = LaunchedStep()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        given = {1: out_w, 2: err_w, **fds, **({0: stdin} if stdin is not None else {})}
        try:
            with self.lock:
                if not self.alive or self.closing:
                    raise LauncherGone
                rid = step.rid = next(self.ids)
                step.launcher = self
                self.steps[rid] = step
            msg = marshal.dumps({"id": rid, "plan": str(plan), "flags": flags, "fds": [*given]})
            try:
                self._send(msg, [*given.values()])
            except OSError:
                with self.lock:
                    self.steps.pop(rid, None)
                raise LauncherGone from None
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        # as Popen's pipes, read by Executor._pump; closed by wait()
        step.stdout = open(out_r, "rb", buffering=0)  # noqa: SIM115
        step.stderr = open(err_r, "rb", buffering=0)  # noqa: SIM115
        step.started.wait()
        if step.error is not None:
            step.wait()  # closes the pipes
            if step.pid == 0 and not self.alive:
                raise LauncherGone
            raise OSError(step.error)
        return step

    def kill(self, rid: int) -> None:
        with contextlib.suppress(OSError):
            self._send(marshal.dumps({"id": rid, "kill": signal.SIGKILL.value}))

    def _send(self, msg: bytes, fds: list[int] | None = None) -> None:
        # Not under self.lock: a send waits while the launcher's queue is full (a few
        # messages), and the launcher then waits for _read, which takes self.lock.
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        with self.send_lock:
            self.sock.sendmsg([msg], rights)

    def _read(self) -> None:
        while True:
            try:
                msg = self.sock.recv(4096)
            except OSError:
                msg = b""
            if not msg:
                break
            what, rid, value = marshal.loads(msg)
            with self.lock:
                step = self.steps.get(rid) if what == "started" else self.steps.pop(rid, None)
                done = self.closing and not self.steps
            if step is None:
                continue
            if what == "started":
                step.pid = value
                self.served = True
            elif what == "error":
                step.error, step.returncode = value, -1
                step.ended.set()
            else:
                step.returncode = os.waitstatus_to_exitcode(value)
                step.ended.set()
            step.started.set()
            if done:
                self.sock.shutdown(socket.SHUT_RDWR)
        with self.lock:
            self.alive = False
            orphans, self.steps = self.steps, {}
        for step in orphans.values():  # killed with the launcher (their parent-death signal)
            step.error = "the step launcher stopped"
            step.returncode = -signal.SIGKILL
            step.ended.set()
            step.started.set()
        self.sock.close()
        self.proc.wait()

    def close(self) -> None:
        """Stop once no step it started is running (those still running keep running)."""
        with self.lock:
            self.closing = True
            if self.steps or not self.alive:
                return
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def cpu_seconds(self) -> float:
        """CPU time of the launcher and the steps it has waited for (not the engine's)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def launchers_cpu_seconds() -> float:
    """CPU of the running step launchers and their steps: a launcher is the engine's child but
    its steps are not, so RUSAGE_CHILDREN counts them only once the launcher has ended."""
    return sum(launcher.cpu_seconds() for launcher in list(_LAUNCHERS) if launcher.alive)


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
    proc: subprocess.Popen | LaunchedStep | None = None
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
    use_launcher = False  # steps start from a StepLauncher (configure says)
    launcher: StepLauncher | None = None

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
        # steps start from a launcher (launcher.py) where the engine may make namespaces
        # itself (root); in a user namespace they keep the `unshare` chain
        self.launcher: StepLauncher | None = None
        self.use_launcher = (
            self.prefix is not None
            and "--user" not in self.prefix
            and hasattr(os, "pidfd_open")
            and os.environ.get("YDP_STEP_LAUNCHER", "1") != "0"
        )

    def stop(self) -> None:
        """Stop what outlives single steps (the shared network, the launcher once idle)."""
        if self.network is not None:
            self.network.stop()
        with self.lock:
            launcher, self.launcher = self.launcher, None
        if launcher is not None:
            launcher.close()

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
        if isinstance(proc, LaunchedStep):
            proc.kill()
        elif proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def _command(self, run: StepRun, wait_fd: int | None, netns_fd: int | None) -> list[str]:
        path = self._plan(run, wait_fd, netns_fd)
        helper = [sys.executable, "-I", "-S", "-c", self.helper, str(path), "--"]
        prefix = self.joining_prefix if netns_fd is not None else self.prefix
        assert prefix is not None
        return [*(self.death or []), *prefix, "--", *helper, *run.argv]

    def _plan(
        self, run: StepRun, wait_fd: int | None, netns_fd: int | None, launched: bool = False
    ) -> Path:
        """Write the step's plan for mountns.py (with its argv and env when ``launched``)."""
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
        if launched:
            plan["argv"], plan["env"] = run.argv, run.env
        path = run.tmp_dir.parent / "sandbox.plan"
        path.write_bytes(marshal.dumps(plan))  # mountns.py reads it without importing json
        return path

    def _launch(
        self, run: StepRun, wait_fd: int | None, netns_fd: int | None, stdin: int | None
    ) -> LaunchedStep | None:
        """Start the step from the launcher (started at the first step, again if it died);
        None where there is none: the step then starts as the `unshare` chain."""
        if not self.use_launcher:
            return None
        flags = CLONE_NEWNS | CLONE_NEWPID
        prefix = self.joining_prefix if netns_fd is not None else self.prefix
        if prefix is not None and "--net" in prefix:
            flags |= CLONE_NEWNET
        passed = {fd: fd for fd in (wait_fd, netns_fd) if fd is not None}
        path = self._plan(run, wait_fd, netns_fd, launched=True)
        for _ in range(2):  # a launcher that died is replaced once
            with self.lock:
                launcher = self.launcher
                if launcher is None or not launcher.alive:
                    try:
                        launcher = self.launcher = StepLauncher()
                        # an executor dropped without stop() (tests) does not keep one running
                        weakref.finalize(self, launcher.close)
                    except OSError as exc:
                        print(f"localargo: no step launcher: {exc}", file=sys.stderr)
                        self.use_launcher = False
                        return None
            try:
                return launcher.spawn(path, flags, passed, stdin)
            except LauncherGone:
                if not launcher.served:  # it could not even start: the chain from now on
                    print("localargo: the step launcher did not start", file=sys.stderr)
                    self.use_launcher = False
                    return None
        return None

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
                run.proc = self._launch(run, go_r, netns, tty_in) or subprocess.Popen(
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
                    self._stop(run)
                if go_w is not None:
                    slirp = self._outbound(run.proc.pid, log, run.tmp_dir.parent / "slirp.log")
                    os.write(go_w, b"1")  # the step goes on, with or without its network
                self._pump(run, log)
                code = run.proc.wait()
                if isinstance(run.proc, LaunchedStep) and run.proc.error:
                    error = run.proc.error  # killed with the launcher
                    log.write(f"{error}\n".encode())
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
