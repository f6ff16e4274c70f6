"""Inside a step's fresh mount namespace: carry out a mount plan, then exec the step.

Run as ``python -I -S mountns.py PLAN.json -- ARGV...`` by ``unshare --mount`` (see executor.py).
Stdlib only and independent of the package, so it starts fast with ``-I -S``. The plan is made
by volumes.py; this file only does what it says, in order:

- ``["tmpfs", target, options]``: mount a tmpfs at target (a step-private filesystem);
- ``["populate", target, source, skip]``: fill target (a fresh tmpfs) with one entry per entry
  of source: directories and files bind-mounted (recursively), symlinks copied, so target reads
  like source while new entries made in it never reach source;
- ``["point", target, "dir"|"file"]``: make a mount point (and its parents) if missing;
- ``["bind", source, target]``: bind-mount (recursively) source at target;
- ``["readonly", target]``: remount the bind at target read-only;
- ``["mkdir", target]``: make a directory (and its parents) if missing.

Then ``chroot`` into plan["chroot"] when given, ``chdir`` to plan["cwd"] and exec ARGV.
Nothing here touches the host's view: the namespace is private (``unshare`` makes its mounts
private), and the planner only asks for new entries where the filesystem is ours.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import stat
import sys

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
KEPT_FLAGS = 2 | 4 | 8 | 1024 | 2048  # nosuid, nodev, noexec, noatime, nodiratime (= ST_*)

_libc = ctypes.CDLL(None, use_errno=True)


class PlanError(Exception):
    pass


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    enc = [None if s is None else os.fsencode(s) for s in (source, target, fstype)]
    if _libc.mount(enc[0], enc[1], enc[2], flags, data.encode() or None) != 0:
        err = ctypes.get_errno()
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
    with contextlib.suppress(OSError):  # in a user namespace the owner may not be mapped
        os.chown(target, st.st_uid, st.st_gid)
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
    os.chdir(plan.get("cwd") or "/")


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: mountns.py PLAN.json -- ARGV...", file=sys.stderr)
        return 126
    try:
        with open(argv[0]) as fh:
            plan = json.load(fh)
        run_plan(plan)
    except (OSError, PlanError, ValueError) as exc:
        print(f"the step's volumes could not be mounted: {exc}", file=sys.stderr)
        return 126
    try:
        os.execvp(argv[2], argv[2:])
    except OSError as exc:
        print(f"{argv[2]}: {exc.strerror}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126
    return 126  # not reached: exec replaced us


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
