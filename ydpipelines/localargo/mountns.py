"""Inside a step's fresh mount namespace: carry out a mount plan, then exec the step.

Run as ``python -I -S mountns.py PLAN -- ARGV...`` by ``unshare --mount``, its code handed over
with ``-c`` (executor.helper_program); or, as most steps start, ``start`` called in a child of
the step launcher (launcher.py), which has this code loaded once.
Stdlib only and independent of the package, so it starts fast with ``-I -S``; it runs before
every step, so it imports only what it needs, all in C: json and socket would double its
start-up time (the plan is in ``marshal`` format, written by the same interpreter), and the
``ctypes`` package costs 3 ms of CPU a step over the ``_ctypes`` module it wraps, so libc's
functions are reached through ``_ctypes`` directly (``_libc`` below). The plan is made
by volumes.py; this file only does what it says, in order:

- ``["tmpfs", target, options]``: mount a tmpfs at target (a step-private filesystem);
- ``["populate", target, source, skip]``: fill target (a fresh tmpfs) with one entry per entry
  of source: directories and files bind-mounted (recursively), symlinks copied, so target reads
  like source while new entries made in it never reach source;
- ``["point", target, "dir"|"file"]``: make a mount point (and its parents) if missing;
- ``["bind", source, target]``: bind-mount (recursively) source at target;
- ``["readonly", target]``: remount the bind at target read-only;
- ``["mkdir", target]``: make a directory (and its parents) if missing.

Then ``chroot`` into plan["chroot"] when given, confine the step as plan["sandbox"] says
(sandbox.py: masks, read-only host, a fresh /proc, loopback, then an unprivileged uid), ``chdir``
to plan["cwd"] and exec ARGV. Nothing here touches the host's view: the namespace is private
(``unshare`` makes its mounts private), and the planner only asks for new entries where the
filesystem is ours.
"""

# no `from __future__ import annotations`: one import less at every step start

import _ctypes
import _signal  # the signal module's C half: the module itself imports enum (slow)
import marshal
import os
import stat
import sys

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_NOEXEC = 8
KEPT_FLAGS = 2 | 4 | 8 | 1024 | 2048  # nosuid, nodev, noexec, noatime, nodiratime (= ST_*)
SYS_MOUNT_SETATTR = 442  # the same number on every architecture
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 1
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
SECBIT_NOROOT = 1 | 2  # and locked: uid 0 gains no capabilities at exec
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 1
CLONE_NEWNET = 0x40000000


class _Int(_ctypes._SimpleCData):
    _type_ = "i"  # ctypes.c_int


class _Function(_ctypes.CFuncPtr):
    """A libc function returning an int, errno kept (ctypes.CDLL(None, use_errno=True)'s)."""

    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Int


class _Libc:
    """Attribute access as on ctypes.CDLL(None): the functions already in the process."""

    _handle = _ctypes.dlopen(None, 0)

    def __getattr__(self, name: str) -> _Function:
        fn = _Function((name, self))
        setattr(self, name, fn)
        return fn


_libc = _Libc()
_errno = _ctypes.get_errno


class PlanError(Exception):
    pass


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    enc = [None if s is None else os.fsencode(s) for s in (source, target, fstype)]
    if _libc.mount(enc[0], enc[1], enc[2], flags, data.encode() or None) != 0:
        err = _errno()
        raise PlanError(f"mount {source or fstype} on {target}: {os.strerror(err)}")


def _point(target: str, kind: str) -> None:
    if os.path.lexists(target):
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if kind == "file":
        with open(target, "a"):
            pass
    else:
        os.mkdir(target)


def populate(target: str, source: str, skip: list[str]) -> None:
    st = os.stat(source)
    os.chmod(target, stat.S_IMODE(st.st_mode))
    try:  # noqa: SIM105 (contextlib is slow to import)
        os.chown(target, st.st_uid, st.st_gid)
    except OSError:  # in a user namespace the owner may not be mapped
        pass
    for name in os.listdir(source):
        if name in skip:
            continue
        src = os.path.join(source, name)
        dst = os.path.join(target, name)
        try:
            info = os.lstat(src)
        except FileNotFoundError:
            continue  # gone since listdir
        if stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(src), dst)
            continue
        _point(dst, "dir" if stat.S_ISDIR(info.st_mode) else "file")
        _mount(src, dst, None, MS_BIND | MS_REC)


def run_plan(plan: dict) -> None:
    for op in plan.get("ops", []):
        kind, args = op[0], op[1:]
        if kind == "tmpfs":
            _mount("tmpfs", args[0], "tmpfs", MS_NOSUID | MS_NODEV, args[1])
        elif kind == "populate":
            populate(args[0], args[1], args[2])
        elif kind == "point":
            _point(args[0], args[1])
        elif kind == "bind":
            _mount(args[0], args[1], None, MS_BIND | MS_REC)
        elif kind == "readonly":
            # keep the flags the bind already has (a user namespace may not drop them)
            kept = os.statvfs(args[0]).f_flag & KEPT_FLAGS
            _mount(None, args[0], None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)
        elif kind == "mkdir":
            os.makedirs(args[0], exist_ok=True)
        else:
            raise PlanError(f"unknown step {kind!r}")
    if plan.get("chroot"):
        os.chroot(plan["chroot"])
        os.chdir("/")


def _set_readonly(path: str, on: bool, recursive: bool) -> None:
    # struct mount_attr {u64 attr_set, attr_clr, propagation, userns_fd}, in native order
    fields = (MOUNT_ATTR_RDONLY if on else 0, 0 if on else MOUNT_ATTR_RDONLY, 0, 0)
    attr = b"".join(f.to_bytes(8, sys.byteorder) for f in fields)
    flags = AT_RECURSIVE if recursive else 0
    if _libc.syscall(SYS_MOUNT_SETATTR, -100, os.fsencode(path), flags, attr, len(attr)) != 0:
        err = _errno()
        raise PlanError(f"mount_setattr {path}: {os.strerror(err)} (Linux 5.12+ is needed)")


def _loopback_up() -> None:
    import _socket  # only a step with its own network needs these (most share one)
    import fcntl
    import struct

    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    finally:
        s.close()


def _prctl(option: int, arg: int) -> None:
    if _libc.prctl(option, arg, 0, 0, 0) != 0:
        raise PlanError(f"prctl {option}: {os.strerror(_errno())}")


def confine(box: dict) -> None:
    """Mask, reveal, make the host read-only, mount a fresh /proc, bring up loopback."""
    for path in box.get("mask", []):
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=4k")
    for hidden, paths in (box.get("reveal") or {}).items():
        if not os.path.isdir(hidden):
            continue
        fds = [os.open(p, os.O_PATH) for p in paths]  # reachable until the tmpfs hides them
        _mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
        for path, fd in zip(paths, fds, strict=True):
            os.makedirs(path, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            os.close(fd)
    _set_readonly("/", True, recursive=True)
    for path in box.get("writable", []):
        _set_readonly(path, False, recursive=False)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if box.get("loopback"):
        _loopback_up()


def drop_privileges(box: dict) -> None:
    """No capabilities across exec, then the step's uid/gid; the order matters (CAP_SETPCAP)."""
    with open("/proc/sys/kernel/cap_last_cap") as fh:
        last = int(fh.read())
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap)
    if box.get("uid") is None:
        _prctl(PR_SET_SECUREBITS, SECBIT_NOROOT)  # uid 0 of a user namespace
    else:
        os.setgroups([])
        os.setgid(box["gid"])
        os.setuid(box["uid"])
        # a change of uid clears the parent-death signal `unshare --kill-child` set
        _prctl(PR_SET_PDEATHSIG, _signal.SIGKILL)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)


def join_network(fd: int | None) -> None:
    """Enter the network every step shares (network.py); the step is in the host's network
    until then, so a failure here must stop it."""
    if fd is None:
        return
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise PlanError(f"cannot join the steps' network: {os.strerror(_errno())}")
    os.close(fd)


def wait_for(fd: int | None) -> None:
    """The executor says when the step's network is ready (or given up on)."""
    if fd is None:
        return
    os.read(fd, 1)
    os.close(fd)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: mountns.py PLAN -- ARGV...", file=sys.stderr)
        return 126
    try:
        with open(argv[0], "rb") as fh:
            plan = marshal.load(fh)
    except (OSError, ValueError, EOFError, TypeError) as exc:
        print(f"the step's volumes could not be mounted: {exc}", file=sys.stderr)
        return 126
    return start(plan, argv[2:])


def start(plan: dict, argv: list[str]) -> int:
    """Carry out ``plan`` and exec ``argv``; the exit code when that fails (the launcher's
    children call it directly, launcher.py)."""
    try:
        box = plan.get("sandbox")
        # the engine's folders under /tmp, held open before the step's /tmp covers them
        kept = [(p, os.open(p, os.O_PATH)) for p in (box or {}).get("keep", [])]
        run_plan(plan)
        for path, fd in kept:  # back at their paths; confine() makes them read-only
            os.makedirs(path, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            os.close(fd)
    except (OSError, PlanError, ValueError, EOFError, TypeError) as exc:
        print(f"the step's volumes could not be mounted: {exc}", file=sys.stderr)
        return 126
    try:
        if box is not None:
            join_network(box.get("netns_fd"))
            confine(box)
        cwd = plan.get("cwd") or "/"
        os.makedirs(cwd, exist_ok=True)  # Kubernetes makes a missing workingDir
        os.chdir(cwd)
        if box is not None:
            wait_for(box.get("wait_fd"))
            drop_privileges(box)
    except (OSError, PlanError) as exc:
        print(f"the step's sandbox could not be set up: {exc}", file=sys.stderr)
        return 126
    # Python ignores SIGPIPE and SIGXFSZ at start-up and an ignored signal stays ignored across
    # exec: a pod's process starts with both at their default (`yes | head` ends quietly).
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_DFL)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"{argv[0]}: {exc.strerror}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    return 126  # not reached: exec replaced us


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
