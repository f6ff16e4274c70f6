"""Reading a finished step's outputs as root without leaving the step's own files.

The engine collects outputs as root, and a step may leave a symlink to /etc/shadow,
/proc/1/environ or the engine's data folder where an output should be. So a path is resolved
as the step sees it (StepFS: its /tmp and volumes, symlinks followed in that view), must end
inside those places, and is then opened one component at a time with O_NOFOLLOW from the
folder that holds it: a link swapped in meanwhile (a claim shared with a running step) fails
the open instead of being followed. In a folder being archived, a symlink is stored as a
symlink (relative) when it stays inside the folder and left out otherwise, never its target.
"""

from __future__ import annotations

import errno
import io
import os
import posixpath
import stat
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .volumes import StepFS, under

MAX_LINKS = 40  # as Linux's ELOOP limit
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Refused(Exception):
    """An output path leads out of the step's own files; the message names where."""


def resolve(fs: StepFS, path: str, strict: bool = True) -> str:
    """The container path ``path`` leads to, symlinks followed as the step sees them.
    Raises Refused when it leaves /tmp and the step's volumes (or loops), FileNotFoundError
    when a part is missing (``strict``; otherwise the missing rest is taken as written)."""
    start = path if path.startswith("/") else f"/tmp/{path}"
    pending = list(reversed(start.split("/")))
    done: list[str] = []
    links = 0
    missing = False
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            if done:
                done.pop()
            continue
        here = "/" + "/".join([*done, name])
        host = fs.host_path(here)
        if host is None:
            if fs.holds_mount(here):  # the host's own folder on the way to a mount point
                done.append(name)
                continue
            if not links:  # validate.py keeps declared paths inside: so it was never made
                raise _missing(path)
            rest = posixpath.normpath("/".join([here, *reversed(pending)]))
            raise Refused(f"{path} leads to {rest}, outside the step's /tmp and volumes")
        if not missing:
            try:
                info = os.lstat(host)
            except (FileNotFoundError, NotADirectoryError):
                if strict:
                    raise _missing(path) from None
                missing = True
            else:
                if stat.S_ISLNK(info.st_mode):
                    links += 1
                    if links > MAX_LINKS:
                        raise Refused(f"{path}: too many levels of symbolic links")
                    target = os.readlink(host)
                    if target.startswith("/"):
                        done = []
                    pending.extend(reversed(target.split("/")))
                    continue
        done.append(name)
    real = "/" + "/".join(done)
    if fs.host_path(real) is None:
        raise Refused(f"{path} leads to {real}, outside the step's /tmp and volumes")
    return real


def _missing(path: str) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, "no such file or directory", path)


def open_inside(fs: StepFS, real: str, shown: str) -> int:
    """An fd on the resolved container path ``real``, opened without following any link."""
    found = fs.locate(real)
    if found is None:
        raise Refused(f"{shown} is outside the step's /tmp and volumes")
    base, rest = found
    try:
        fd = os.open(base, OPEN_FLAGS)
        for name in [p for p in rest.split("/") if p]:
            try:
                child = os.open(name, OPEN_FLAGS, dir_fd=fd)
            finally:
                os.close(fd)
            fd = child
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Refused(f"{shown}: a symbolic link appeared where it was read") from None
        raise
    return fd


@dataclass
class Output:
    """A file or folder of a step, open for reading. ``at``: its real container path."""

    fs: StepFS
    at: str
    fd: int
    name: str  # the entry name in an archive
    skipped: list[str] = field(default_factory=list)  # links left out, "entry -> target"

    def __enter__(self) -> Output:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def is_dir(self) -> bool:
        return stat.S_ISDIR(os.fstat(self.fd).st_mode)

    def read(self) -> bytes:
        if self.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory", self.at)
        with os.fdopen(os.dup(self.fd), "rb") as fh:
            return fh.read()

    def add_to(self, tar: tarfile.TarFile) -> None:
        self._add(tar, self.fd, self.name, self.at)

    def extract_to(self, dest: Path) -> None:
        """Copy a folder to ``dest`` with the same rules as the archive."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            self._add(tar, self.fd, self.name, self.at)
        buf.seek(0)
        with (
            tempfile.TemporaryDirectory(dir=dest.parent) as tmp,
            tarfile.open(fileobj=buf, mode="r") as tar,
        ):
            tar.extractall(tmp, filter="data")
            os.replace(os.path.join(tmp, self.name), dest)

    def _add(self, tar: tarfile.TarFile, fd: int, arcname: str, at: str) -> None:
        st = os.fstat(fd)
        info = _info(arcname, st)
        if stat.S_ISREG(st.st_mode):
            info.size = st.st_size
            with os.fdopen(os.dup(fd), "rb") as fh:
                tar.addfile(info, fh)
            return
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for name in sorted(os.listdir(fd)):
            entry, child_at = posixpath.join(arcname, name), f"{at}/{name}"
            lst = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(lst.st_mode):
                target = self._link_inside(child_at)
                if target is None:
                    self.skipped.append(f"{entry} -> {os.readlink(name, dir_fd=fd)}")
                    continue
                link = _info(entry, lst)
                link.type, link.linkname = tarfile.SYMTYPE, target
                tar.addfile(link)
            elif stat.S_ISREG(lst.st_mode) or stat.S_ISDIR(lst.st_mode):
                child = os.open(name, OPEN_FLAGS, dir_fd=fd)
                try:
                    self._add(tar, child, entry, child_at)
                finally:
                    os.close(child)
            # sockets and fifos are left out, as they carry no data

    def _link_inside(self, at: str) -> str | None:
        """The link at ``at`` as a relative target when it stays inside this folder."""
        try:
            real = resolve(self.fs, at, strict=False)
        except Refused:
            return None
        if not under(real, self.at):
            return None
        return posixpath.relpath(real, posixpath.dirname(at))


def _info(name: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.mtime = int(st.st_mtime)
    info.uid, info.gid = st.st_uid, st.st_gid
    return info


def open_output(fs: StepFS, path: str, name: str | None = None) -> Output:
    """Open the output at container path ``path`` (a regular file or a folder). Raises Refused
    or FileNotFoundError, each naming the path."""
    real = resolve(fs, path)
    fd = open_inside(fs, real, path)
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        os.close(fd)
        raise Refused(f"{path} is not a regular file or folder")
    base = posixpath.basename(posixpath.normpath(path))
    return Output(fs, real, fd, name or base)
