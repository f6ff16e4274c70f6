"""What a step may see and do on this machine: one policy for every executor.

The host executor applies it with ``unshare`` and mountns.py; a container executor maps the same
fields to its runtime's options (user, network, read-only root, tmpfs mounts). A step gets:

- its own pid namespace and a fresh /proc: it sees its own processes only (no /proc/*/environ
  of the engine or the app);
- an unprivileged uid/gid (``--step-user`` / ``YDP_STEP_UID``; default 65534 'nobody' when the
  engine is root), no supplementary groups, no new privileges, an empty capability bounding set.
  When the engine is not root it runs steps in a user namespace (``unshare --user
  --map-root-user``) whose only uid is the engine's: the step keeps that uid, without
  capabilities;
- a network namespace: outbound through ``slirp4netns --disable-host-loopback`` (the
  host's 127.0.0.1 services, PostgreSQL and Redis, are out of reach; ``pip install`` still
  works), one shared by every step when the engine is root (network.py), or loopback only
  when slirp4netns is missing (said in the step's log). A host resolv.conf that names only
  loopback resolvers (systemd-resolved's 127.0.0.53) cannot serve a step: the step then sees
  one naming slirp4netns' resolver, 10.0.2.3, which forwards to the host's;
  ``--step-network host`` shares the host's network, an explicit opt-in;
- a read-only host: / recursively read-only, writable only its /tmp, private tmpfs on /var/tmp
  and /dev/shm, and its volumes. /run is an empty tmpfs (the host's unix sockets: PostgreSQL
  trusts local connections), the engine's data folder is masked by an empty tmpfs;
- an environment made by the engine from scratch (PATH, HOME, LANG, the template's env): the
  engine's own variables (DATABASE_URL...) never reach it.

Steps use the engine's interpreter and shims. When one of those lives behind a folder the step's
uid cannot traverse (pyenv under /root, mode 700), that folder is replaced, in the step's view
only, by an empty tmpfs with just the needed folders bound back read-only: nothing else of it
becomes visible. A needed folder that the uid cannot read itself is said in the step's log.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .volumes import StepFS

# Step-private empty filesystems, mounted before anything else (volumes may land inside them).
PRIVATE_TMPFS = {"/var/tmp": "mode=1777", "/dev/shm": "mode=1777", "/run": "mode=755"}
NETWORKS = ("outbound", "none", "host")
NOBODY = 65534
SLIRP_DNS = "10.0.2.3"


class SandboxError(Exception):
    """A sandbox option this machine cannot honour; the message says which."""


def private_tmpfs() -> list[str]:
    """The step-private empty tmpfs folders (those this machine has)."""
    return [p for p in PRIVATE_TMPFS if os.path.isdir(p)]


def under_dir(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def slirp_resolv_conf(host: str) -> str | None:
    """The resolv.conf for a step behind slirp4netns when the host's ``host`` names no
    resolver the step can reach (only loopback ones, or none); None when it serves as is."""
    lines = host.splitlines()
    servers = [ln.split()[1] for ln in lines if ln.split()[:1] == ["nameserver"] and ln.split()[1:]]
    if any(not (s.startswith("127.") or s == "::1") for s in servers):
        return None
    kept = [ln for ln in lines if ln.split()[:1] in (["search"], ["domain"], ["options"])]
    return "\n".join([f"nameserver {SLIRP_DNS}", *kept]) + "\n"


def parse_user(spec: str) -> tuple[int, int]:
    """``nobody``, ``65534``, ``1000:1000`` or ``name:gid`` -> (uid, gid)."""
    name, _, group = spec.partition(":")
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:
        if not name.isdigit():
            raise SandboxError(f"step user {name!r} does not exist on this machine") from None
        uid = gid = int(name)  # a uid with no passwd entry, as containers allow
    if group:
        if not group.isdigit():
            raise SandboxError(f"step group {group!r} must be a number")
        gid = int(group)
    if uid == 0:
        raise SandboxError("steps must not run as root (uid 0)")
    return uid, gid


def _reaches(path: str, uid: int, gid: int, bits: int) -> bool:
    st = os.stat(path)
    shift = 6 if st.st_uid == uid else 3 if st.st_gid == gid else 0
    return (st.st_mode >> shift) & bits == bits


def engine_under_tmp() -> list[str]:
    """The engine's folders that steps need (its Python, its shims) and that live under /tmp,
    outermost only."""
    from .volumes import engine_paths  # volumes.py imports this module

    found = sorted({os.path.realpath(p) for p in engine_paths()})
    found = [p for p in found if under_dir(p, "/tmp") and p != "/tmp"]
    return [p for p in found if not any(p != q and under_dir(p, q) for q in found)]


def reveals(uid: int, gid: int) -> tuple[dict[str, list[str]], list[str]]:
    """For each folder on the way to a needed path that ``uid`` cannot traverse: the needed
    paths under it (bound back read-only); plus the needed paths ``uid`` cannot read at all."""
    from .volumes import engine_paths  # volumes.py imports this module

    hidden: dict[str, list[str]] = {}
    unreadable: list[str] = []
    for path in engine_paths():
        real = os.path.realpath(path)
        parts = Path(real).parts
        blocked = next(
            (
                str(Path(*parts[: i + 1]))
                for i in range(1, len(parts) - 1)
                if not _reaches(str(Path(*parts[: i + 1])), uid, gid, 0o1)
            ),
            None,
        )
        if blocked is not None:
            hidden.setdefault(blocked, []).append(real)
        if not _reaches(real, uid, gid, 0o5):
            unreadable.append(real)
    for paths in hidden.values():  # a path inside another one comes with it
        paths[:] = [p for p in paths if not any(p != q and p.startswith(q + "/") for q in paths)]
    return hidden, unreadable


@dataclass
class Sandbox:
    uid: int | None  # None: the step keeps the engine's uid (user-namespace mode)
    gid: int | None
    network: str  # outbound | none | host
    slirp: str | None = None  # slirp4netns, when the network is outbound and it exists
    masked: list[str] = field(default_factory=list)
    hidden: dict[str, list[str]] = field(default_factory=dict)
    # engine folders under /tmp (a project cloned there): the step's own /tmp covers them, so
    # mountns.py binds them back, read-only, at the same paths
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # lines for each step's log
    resolv: str | None = None  # the step's resolv.conf when the host's cannot serve it
    resolv_target: str = "/etc/resolv.conf"  # where it is bound (the host file's real path)

    @classmethod
    def configure(
        cls,
        step_user: str | None = None,
        network: str | None = None,
        user_ns: bool = False,
        masked: list[str] | None = None,
        resolv_conf: str = "/etc/resolv.conf",
    ) -> Sandbox:
        """``step_user``/``network``: the engine's options (or YDP_STEP_UID/YDP_STEP_NETWORK);
        ``user_ns``: steps run in a user namespace (the engine is not root); ``resolv_conf``:
        the host's."""
        network = network or os.environ.get("YDP_STEP_NETWORK") or "outbound"
        if network not in NETWORKS:
            raise SandboxError(f"step network {network!r} is not one of {', '.join(NETWORKS)}")
        step_user = step_user or os.environ.get("YDP_STEP_UID") or None
        box = cls(None, None, network, masked=list(masked or []), kept=engine_under_tmp())
        if user_ns:
            if step_user:
                print(
                    f"localargo: warning: the engine is not root: steps keep its uid "
                    f"{os.getuid()}, not {step_user}",
                    file=sys.stderr,
                )
        else:
            box.uid, box.gid = parse_user(step_user) if step_user else (NOBODY, NOBODY)
            box.hidden, unreadable = reveals(box.uid, box.gid)
            for path in unreadable:
                box.notes.append(
                    f"sandbox: uid {box.uid} cannot read {path}, which steps run from; "
                    "make it readable or choose another --step-user"
                )
        if network == "outbound":
            box.slirp = shutil.which("slirp4netns")
            if box.slirp is None:
                box.notes.append(
                    "sandbox: slirp4netns is not installed: this step has no network "
                    "(loopback only)"
                )
            else:
                box._plan_resolv(resolv_conf)
        return box

    def _plan_resolv(self, host: str) -> None:
        try:
            text = Path(host).read_text(errors="replace")
        except OSError:
            text = ""
        self.resolv = slirp_resolv_conf(text)
        if self.resolv is None:
            return
        target = os.path.realpath(host)
        # a new file may be made only on a step-private tmpfs (/run for systemd's stub file)
        if os.path.isfile(target) or any(under_dir(target, p) for p in private_tmpfs()):
            self.resolv_target = target
        else:
            self.resolv = None
            self.notes.append(
                f"sandbox: {host} names only loopback resolvers and {target} cannot be "
                "replaced: names will not resolve in this step"
            )

    def resolv_ops(self, folder: Path) -> list[list[Any]]:
        """Mount-plan ops that show the step ``self.resolv`` (written in ``folder``)."""
        if self.resolv is None:
            return []
        path = folder / "resolv.conf"
        path.write_text(self.resolv)
        return [["point", self.resolv_target, "file"], ["bind", str(path), self.resolv_target]]

    def unshare_flags(self) -> list[str]:
        return [] if self.network == "host" else ["--net"]

    def pre_ops(self) -> list[list[Any]]:
        """Mount-plan ops that come first: the step-private tmpfs folders."""
        return [["tmpfs", p, PRIVATE_TMPFS[p]] for p in private_tmpfs()]

    def settings(
        self, fs: StepFS | None, wait_fd: int | None, netns_fd: int | None = None
    ) -> dict[str, Any]:
        """The ``sandbox`` part of the plan mountns.py carries out after the mounts.
        ``netns_fd``: the network namespace the step joins (the shared one, network.py)."""
        writable = ["/tmp"] + [p for p in private_tmpfs() if p != "/run"]
        if fs is not None:
            writable += [m.path for m in fs.mounts if not m.read_only]
        return {
            "keep": self.kept,
            "mask": self.masked,
            "reveal": self.hidden,
            "writable": writable,
            "loopback": self.network != "host",
            "wait_fd": wait_fd,
            "netns_fd": netns_fd,
            "uid": self.uid,
            "gid": self.gid,
        }

    def hand_over(self, fs: StepFS, placed: list[Path]) -> None:
        """Give the step's uid its writable places: its /tmp, its fresh volume folders (emptyDir,
        secret and configMap copies: whole trees), a claim's folder and the inputs placed in it."""
        if self.uid is None:
            return
        base = fs.tmp.parent
        self._own_tree(fs.tmp)
        for m in fs.mounts:
            if m.memory or not m.source.exists():
                continue
            if m.source.resolve().is_relative_to(base.resolve()):
                self._own_tree(m.source)
            elif not m.read_only:
                os.lchown(m.source, self.uid, self.gid)
        for path in placed:
            if path.exists() and not path.resolve().is_relative_to(base.resolve()):
                self._own_tree(path)

    def _own_tree(self, top: Path) -> None:
        assert self.uid is not None and self.gid is not None
        os.lchown(top, self.uid, self.gid)
        if not stat.S_ISDIR(os.lstat(top).st_mode):
            return
        for root, dirs, files in os.walk(top):  # does not follow symlinks
            for name in dirs + files:
                os.lchown(os.path.join(root, name), self.uid, self.gid)
