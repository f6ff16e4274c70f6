"""The step launcher: one small long-lived process per host executor that starts its steps.

A step used to start as a chain ``setpriv --pdeathsig KILL`` -> ``unshare --mount --pid
[--net] --fork --kill-child`` -> ``python -I -S`` (mountns.py) -> the command: a fresh
interpreter for every step, most of a step's start-up CPU. The launcher is that interpreter,
started once (``python -I -S``, mountns.py's code in it) and forked for each step:

- the engine sends a request over a SOCK_SEQPACKET socket (``serve``): the plan file (it also
  holds the step's argv and environment), the namespaces to make, and the step's stdin, stdout,
  stderr and passed descriptors (SCM_RIGHTS) with the numbers they must have in the step;
- the launcher forks a child that does what ``setpriv`` and ``unshare`` did: a new session
  (the engine kills the step's process group), PR_SET_PDEATHSIG to the launcher, the
  descriptors at their numbers and every other one closed, SIGINT and SIGTERM blocked,
  ``unshare`` of the namespaces, then a fork: the grandchild (pid 1 of the new pid namespace)
  dies with it (``--kill-child``), makes the mounts private, takes the step's environment and
  runs mountns.start (mounts, sandbox, exec); the child waits for it and ends as it ended;
- the launcher answers with the child's pid (the step's process group; slirp4netns joins its
  network) and, when the child has ended, its wait status. The engine kills a step through the
  launcher: it alone reaps the child, so the group it signals is never a reused id.

When the engine dies (kill -9 included) its end of the socket closes: the launcher kills the
steps' process groups and exits; should it die instead, each child dies with it (its parent-
death signal) and takes its pid namespace with it. The launcher is single-threaded (it forks)
and stdlib-only, like mountns.py; it is run from ``executor.launcher_program``.
"""

import _locale
import array
import fcntl
import marshal
import os
import select
import signal
import socket
import sys

PR_SET_PDEATHSIG = 1
MS_REC, MS_PRIVATE = 16384, 1 << 18
MAX_FDS = 8  # stdin, stdout, stderr and the few a step is passed (network.py, slirp4netns)
MESSAGE = 64 * 1024
BLOCKED = {signal.SIGINT, signal.SIGTERM}  # as `unshare --fork` blocks them while it waits
# what PEP 538 makes `python -I -S` set in a C locale: the helper used to put it in every
# step's environment, so steps keep seeing it
COERCED_LOCALES = ("C.UTF-8", "C.utf8", "UTF-8")


def serve(sock_fd: int, helper: dict) -> None:
    """Start steps as the engine asks on ``sock_fd`` until it closes; ``helper``: mountns.py's
    names (its ``start`` and its libc)."""
    sock = socket.socket(fileno=sock_fd)
    me = os.getpid()
    poll = select.poll()
    poll.register(sock, select.POLLIN)
    steps: dict[int, tuple[int, int]] = {}  # pidfd -> (request id, pid)
    # `continue` below still runs the `finally` that closes the received descriptors
    while True:
        for fd, _ in poll.poll():
            if fd != sock.fileno():
                rid, pid = steps.pop(fd)
                poll.unregister(fd)
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                _reply(sock, ("exit", rid, status))
                continue
            try:
                msg, anc, _, _ = sock.recvmsg(MESSAGE, socket.CMSG_SPACE(MAX_FDS * 4))
            except ConnectionError:
                msg, anc = b"", []
            fds = array.array("i")
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
            if not msg:  # the engine has gone (or is done with us): so do its steps
                for _, pid in steps.values():
                    try:  # noqa: SIM105 (one import less)
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
                return
            rid = -1
            try:
                req = marshal.loads(msg)
                rid = req["id"]
                if "kill" in req:  # only while unreaped: the group's id cannot be another's
                    for pid_rid, pid in steps.values():
                        if pid_rid == rid:
                            os.killpg(pid, req["kill"])
                    continue
                pid = _fork(req, list(fds), helper, me)
                pidfd = os.pidfd_open(pid)
            except (OSError, ValueError, EOFError, TypeError, KeyError) as exc:
                _reply(sock, ("error", rid, str(exc)))
            else:
                steps[pidfd] = (rid, pid)
                poll.register(pidfd, select.POLLIN)
                _reply(sock, ("started", rid, pid))
            finally:
                for f in fds:
                    os.close(f)


def _reply(sock: socket.socket, msg: tuple) -> None:
    try:  # noqa: SIM105 (one import less)
        sock.send(marshal.dumps(msg))
    except OSError:
        pass  # the engine has gone: the next read says so


def _fork(req: dict, fds: list[int], helper: dict, launcher: int) -> int:
    sys.stderr.flush()  # nothing of ours may end up in a step's log
    pid = os.fork()
    if pid:
        return pid
    code = 126
    try:
        code = _child(req, fds, helper, launcher)
    except BaseException as exc:  # anything: the child must never return into the loop
        print(f"the step could not be started: {exc}", file=sys.stderr)
    finally:
        sys.stderr.flush()
        os._exit(code)
    return code  # not reached


def _child(req: dict, fds: list[int], helper: dict, launcher: int) -> int:
    """What setpriv and `unshare --fork` did, in a child of the launcher; its exit status."""
    os.setsid()
    _prctl(helper, PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != launcher:  # the launcher died before the prctl
        return 126
    signal.pthread_sigmask(signal.SIG_BLOCK, BLOCKED)
    _place(fds, req["fds"])
    if helper["_libc"].unshare(req["flags"]) != 0:
        print(f"unshare failed: {os.strerror(helper['_errno']())}", file=sys.stderr)
        return 1
    pid = os.fork()
    if pid == 0:
        code = 126
        try:
            code = _step(req, helper)
        except BaseException as exc:
            print(f"the step could not be started: {exc}", file=sys.stderr)
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    sig = os.WTERMSIG(status)  # end by the same signal, as `unshare` does
    if sig != signal.SIGKILL:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    os.kill(os.getpid(), sig)
    return 1


def _step(req: dict, helper: dict) -> int:
    """Pid 1 of the step's namespace: its mounts, sandbox and exec (mountns.start)."""
    _prctl(helper, PR_SET_PDEATHSIG, signal.SIGKILL)  # `unshare --kill-child`
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    if helper["_libc"].mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        print(f"cannot make the mounts private: {os.strerror(helper['_errno']())}", file=sys.stderr)
        return 1
    with open(req["plan"], "rb") as fh:
        plan = marshal.load(fh)
    _environ(plan.get("env") or {})
    return helper["start"](plan, plan["argv"])


def _environ(env: dict) -> None:
    """The step's environment as the chain gave it: the engine's, plus PEP 538's LC_CTYPE."""
    os.environ.clear()
    os.environ.update(env)
    if os.environ.get("LC_ALL"):
        return
    try:
        current = _locale.setlocale(_locale.LC_CTYPE, "")
    except _locale.Error:
        current = "C"  # an unknown locale leaves the C locale in place
    if current not in ("C", "POSIX"):
        return
    for name in COERCED_LOCALES:
        try:
            _locale.setlocale(_locale.LC_CTYPE, name)
        except _locale.Error:
            continue
        os.environ["LC_CTYPE"] = name
        return


def _place(fds: list[int], numbers: list[int]) -> None:
    """Each received descriptor at the number the step expects (as Popen's pass_fds); every
    other descriptor (the launcher's socket, other steps' pidfds) closed."""
    base = max([*fds, *numbers, 2]) + 1
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base) for fd in fds]
    for fd, number in zip(high, numbers, strict=True):
        os.dup2(fd, number)  # inheritable
    low = 0
    for keep in sorted({0, 1, 2, *numbers}):
        if keep > low:
            os.closerange(low, keep)
        low = keep + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _prctl(helper: dict, option: int, arg: int) -> None:
    if helper["_libc"].prctl(option, arg, 0, 0, 0) != 0:
        raise OSError(helper["_errno"](), f"prctl {option}")
