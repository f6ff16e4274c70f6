"""A step's filesystem: its private /tmp and the pod's volumes, as folders on the host, plus the
plan that mounts them inside the step's mount namespace (mountns.py carries it out).

How Kubernetes volumes map to this machine:
- ``emptyDir``: a fresh folder per step (Kubernetes scopes it to the pod, and a step is a pod);
  ``medium: Memory`` is a private tmpfs (``sizeLimit`` enforced), unless an artifact, output
  parameter or the script lives under it: then a folder, so the engine can reach the files.
- ``persistentVolumeClaim``: ``<data>/volumes/<namespace>/<claimName>``, made on first use and
  shared by every step of every workflow; ``volumeClaimTemplates`` give
  ``<data>/volumes/<namespace>/<workflow>-<name>``, removed with the workflow (volumeClaimGC).
- ``secret`` / ``configMap``: a read-only copy of ``<data>/secrets/<ns>/<name>/<key>`` files
  (``<data>/configmaps/...``), ``items`` and modes applied.

A mount point that does not exist on the host is never made there: the step then gets a
private root (a tmpfs whose entries are bind mounts of the host's), and each existing folder
that needs a new entry is shadowed the same way, so new mount points live on tmpfs only.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sandbox import private_tmpfs

KINDS = ("emptyDir", "persistentVolumeClaim", "secret", "configMap")
KERNEL_FS = ("/proc", "/sys", "/dev")
# Folders a step needs from the host: a mount must not hide them.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/run")
CLAIM_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")
QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$")
UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
}


class VolumeError(Exception):
    """A volume or mount this step cannot have; the message names it."""


def under(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def engine_paths() -> list[str]:
    """Folders of this engine that steps use: its shims and its Python."""
    here = Path(__file__).resolve().parent
    python = os.path.dirname(os.path.realpath(sys.executable))
    return sorted({str(here), sys.prefix, sys.base_prefix, python})


def mount_path_problem(path: str) -> str | None:
    """Why a volume cannot be mounted at ``path`` here, or None when it can."""
    if not path.startswith("/"):
        return f"{path} is not an absolute path"
    norm = posixpath.normpath(path)
    if norm == "/":
        return "/ would hide the whole machine"
    for kernel in KERNEL_FS:
        if under(norm, kernel) and not os.path.isdir(norm):
            return f"{norm} would need a new entry in {kernel}, a kernel filesystem here"
    for needed in (*SYSTEM, *KERNEL_FS, *engine_paths()):
        if under(needed, norm):
            return f"{norm} would hide {needed}, which steps need on this machine"
    return None


def sub_path_problem(sub: str) -> str | None:
    if sub.startswith("/"):
        return f"subPath {sub} must be relative"
    if ".." in sub.split("/"):
        return f"subPath {sub} must not contain '..'"
    return None


def parse_quantity(text: Any) -> int:
    """Bytes in a Kubernetes quantity such as ``64Mi`` or ``1G``."""
    m = QUANTITY.match(str(text).strip())
    if not m or m.group(2) not in UNITS:
        raise VolumeError(f"sizeLimit {text!r} is not a quantity such as 64Mi or 1G")
    return int(float(m.group(1)) * UNITS[m.group(2)])


@dataclass
class Mount:
    path: str  # where the step sees it
    source: Path  # the host folder (or file) behind it
    read_only: bool = False
    memory: bool = False  # source is a tmpfs made inside the namespace: the host sees nothing


@dataclass
class StepFS:
    """The step's view of paths: /tmp is ``tmp``, each mount its source."""

    tmp: Path
    mounts: list[Mount] = field(default_factory=list)
    staging: list[tuple[Path, str]] = field(default_factory=list)  # memory volumes: tmpfs there

    def host_path(self, path: str) -> Path | None:
        """Where a container path lives on the host, or None (outside /tmp and the mounts, or
        on a memory volume)."""
        found = self.locate(path)
        if found is None:
            return None
        base, rest = found
        return base / rest if rest else base

    def locate(self, path: str) -> tuple[Path, str] | None:
        """The host folder (or file) of the mount, or /tmp, that holds a container path, and
        the path's rest inside it; None as for ``host_path``."""
        if not path:
            return None
        norm = posixpath.normpath(path)
        if not norm.startswith("/"):
            return self.tmp, norm
        best: Mount | None = None
        for m in self.mounts:
            if under(norm, m.path) and (best is None or len(m.path) > len(best.path)):
                best = m
        if best is not None:
            if best.memory:
                return None
            return best.source, norm[len(best.path) :].lstrip("/")
        if under(norm, "/tmp"):
            return self.tmp, norm[len("/tmp") :].lstrip("/")
        return None

    def holds_mount(self, path: str) -> bool:
        """Is ``path`` a folder on the way to /tmp or to a mount point (the host's own)?"""
        norm = posixpath.normpath(path)
        return any(under(p, norm) for p in ["/tmp", *(m.path for m in self.mounts)])

    def _owned(self, path: str, upto: int) -> bool:
        """Is ``path`` on a filesystem of this step (its /tmp, a private tmpfs of the sandbox or
        one of the first mounts)?"""
        return (
            under(path, "/tmp")
            or any(under(path, p) for p in private_tmpfs())
            or any(under(path, m.path) for m in self.mounts[:upto])
        )

    def plan(self, cwd: str, root: Path) -> dict[str, Any] | None:
        """The mount plan for mountns.py, or None when the private /tmp is all the step needs
        (the fast path). ``root``: an empty host folder where the step's private root is built
        (inside the namespace: the host never sees it filled)."""
        make_cwd = not self._owned(cwd, len(self.mounts)) and not os.path.isdir(cwd)
        if not self.mounts and not make_cwd:
            return None
        top = str(root)
        shadows: set[str] = set()
        ops: list[list[Any]] = [
            ["tmpfs", top, "mode=755"],
            ["populate", top, "/", ["tmp"]],
            ["point", top + "/tmp", "dir"],
            ["bind", str(self.tmp), top + "/tmp"],
        ]
        for folder, options in self.staging:
            ops.append(["tmpfs", str(folder), options])
        binds: list[list[Any]] = []
        read_only: list[list[Any]] = []
        for i, m in enumerate(self.mounts):
            kind = "file" if m.source.is_file() else "dir"
            target = m.path
            if self._owned(m.path, i):
                self._check_inside(m.path, i)
                binds.append(["point", top + target, kind])
            else:
                # the host's real path, so no symlink can lead a new entry out of the root
                target = os.path.realpath(m.path)
                exists = os.path.isdir(target) if kind == "dir" else os.path.isfile(target)
                if not exists:
                    shadows.add(_existing_ancestor(target))
                    binds.append(["point", top + target, kind])
            if m.memory and not m.source.exists():
                binds.append(["mkdir", str(m.source)])  # a subPath inside the staged tmpfs
            binds.append(["bind", str(m.source), top + target])
            if m.read_only:
                read_only.append(["readonly", top + target])
        if make_cwd:
            real = os.path.realpath(cwd)
            shadows.add(_existing_ancestor(real))
            binds.append(["mkdir", top + real])
        elif self._owned(cwd, len(self.mounts)):
            self._check_inside(cwd, len(self.mounts))
            binds.append(["mkdir", top + cwd])  # Kubernetes makes a missing workingDir
        # an existing folder that needs a new entry becomes a tmpfs holding binds of its entries
        for shadow in sorted(shadows - {"/"}, key=lambda p: p.count("/")):
            ops.append(["tmpfs", top + shadow, "mode=755"])
            ops.append(["populate", top + shadow, shadow, []])
        ops.extend(binds)
        ops.extend(read_only)
        return {"ops": ops, "chroot": top, "cwd": cwd}

    def _check_inside(self, path: str, upto: int) -> None:
        """A mount point inside /tmp or a volume must not lead out of it through a symlink."""
        bases = [("/tmp", self.tmp)] + [(m.path, m.source) for m in self.mounts[:upto]]
        inside = [(p, src) for p, src in bases if under(path, p)]
        if not inside:
            return  # on a private tmpfs of the sandbox: empty, so no symlink leads out
        mount_path, base = max(inside, key=lambda b: len(b[0]))
        real = os.path.realpath(base / posixpath.relpath(path, mount_path))
        if base.is_dir() and not under(real, os.path.realpath(base)):
            raise VolumeError(f"{path} leads out of its volume through a symlink")


def _existing_ancestor(path: str) -> str:
    current = posixpath.dirname(path)
    while current != "/" and not os.path.isdir(current):
        current = posixpath.dirname(current)
    return current


@dataclass
class Volumes:
    """Resolves a pod's volumes and mounts to host folders for one step."""

    data: Path
    namespace: str
    workflow: str
    step_dir: Path

    def claim_dir(self, claim: str) -> Path:
        if not CLAIM_NAME.match(claim):
            raise VolumeError(f"claimName {claim!r} is not a valid name")
        return self.data / "volumes" / self.namespace / claim

    def build(
        self,
        tmp: Path,
        volumes: list[dict[str, Any]],
        claim_templates: list[dict[str, Any]],
        mounts: list[dict[str, Any]],
        visible: list[str],
    ) -> StepFS:
        """``visible``: container paths the engine must reach from the host (artifacts, output
        parameters, the script), which keeps a memory volume under them on disk."""
        by_name: dict[str, dict[str, Any]] = {}
        for vct in claim_templates:
            name = (vct.get("metadata") or {}).get("name", "")
            by_name[name] = {
                "name": name,
                "persistentVolumeClaim": {"claimName": f"{self.workflow}-{name}"},
            }
        for vol in volumes:
            by_name[vol.get("name", "")] = vol
        fs = StepFS(tmp=tmp)
        sources: dict[str, tuple[Path, bool, bool]] = {}  # name -> (folder, read-only, memory)
        for j, mount in enumerate(mounts):
            where = f"volumeMounts[{j}]"
            name = mount.get("name", "")
            vol = by_name.get(name)
            if vol is None:
                raise VolumeError(f"{where}: no volume named {name!r} in the template or workflow")
            if mount.get("subPathExpr"):
                raise VolumeError(f"{where}.subPathExpr is not supported")
            path = mount.get("mountPath", "")
            problem = mount_path_problem(path)
            if problem:
                raise VolumeError(f"{where}.mountPath: {problem}")
            path = posixpath.normpath(path)
            if name not in sources:
                sources[name] = self._source(vol, mounts, visible)
            folder, read_only, memory = sources[name]
            sub = mount.get("subPath") or ""
            if sub:
                problem = sub_path_problem(sub)
                if problem:
                    raise VolumeError(f"{where}: {problem}")
                base, folder = folder, folder / posixpath.normpath(sub)
                if not memory:
                    if not under(os.path.realpath(folder), os.path.realpath(base)):
                        raise VolumeError(f"{where}: subPath {sub} leads out of its volume")
                    folder.mkdir(parents=True, exist_ok=True)
            read_only = read_only or bool(mount.get("readOnly"))
            fs.mounts.append(Mount(path, folder, read_only, memory))
        for name, (folder, _, memory) in sources.items():
            if memory:
                limit = (by_name[name].get("emptyDir") or {}).get("sizeLimit")
                options = "mode=1777" + (f",size={parse_quantity(limit)}" if limit else "")
                fs.staging.append((folder, options))
        # a parent before its children, so nested mounts land inside their parent
        fs.mounts.sort(key=lambda m: m.path.count("/"))
        return fs

    def _source(
        self, vol: dict[str, Any], mounts: list[dict[str, Any]], visible: list[str]
    ) -> tuple[Path, bool, bool]:
        name = vol.get("name", "")
        if not CLAIM_NAME.match(name):
            raise VolumeError(f"volume name {name!r} is not valid")  # it names a folder
        kind = next((k for k in KINDS if k in vol), None)
        if kind is None:
            other = next((k for k in vol if k != "name"), "?")
            raise VolumeError(f"volume {name}: {other} volumes are not supported here")
        if kind == "persistentVolumeClaim":
            pvc = vol[kind] or {}
            folder = self.claim_dir(str(pvc.get("claimName", "")))
            folder.mkdir(parents=True, exist_ok=True)
            return folder, bool(pvc.get("readOnly")), False
        folder = self.step_dir / "volumes" / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        if kind == "emptyDir":
            memory = (vol[kind] or {}).get("medium") == "Memory"
            if memory:
                if (vol[kind] or {}).get("sizeLimit"):
                    parse_quantity(vol[kind]["sizeLimit"])
                paths = [
                    posixpath.normpath(m.get("mountPath", ""))
                    for m in mounts
                    if m.get("name") == name
                ]
                if any(under(posixpath.normpath(v), p) for v in visible for p in paths):
                    memory = False
            return folder, False, memory
        self._copy_keys(vol, kind, folder)
        return folder, True, False

    def _copy_keys(self, vol: dict[str, Any], kind: str, folder: Path) -> None:
        ref = vol[kind] or {}
        store = "secrets" if kind == "secret" else "configmaps"
        ref_name = ref.get("secretName" if kind == "secret" else "name", "")
        if not CLAIM_NAME.match(str(ref_name)):
            raise VolumeError(f"volume {vol.get('name')}: {kind} name {ref_name!r} is not valid")
        src = self.data / store / self.namespace / ref_name
        if not src.is_dir():
            if ref.get("optional"):
                return
            raise VolumeError(
                f"volume {vol.get('name')}: {kind} {ref_name} not found "
                f"(the engine reads it from {src})"
            )
        mode = int(ref.get("defaultMode", 0o644))
        items = ref.get("items") or [
            {"key": f.name, "path": f.name} for f in sorted(src.iterdir()) if f.is_file()
        ]
        for item in items:
            key, rel = str(item.get("key", "")), str(item.get("path") or item.get("key", ""))
            problem = sub_path_problem(rel)
            if "/" in key or problem:
                raise VolumeError(f"volume {vol.get('name')}: item {key!r} -> {rel!r} is not valid")
            if not (src / key).is_file():
                if ref.get("optional"):
                    continue
                raise VolumeError(f"volume {vol.get('name')}: {kind} {ref_name} has no key {key}")
            dest = folder / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / key, dest)
            os.chmod(dest, int(item.get("mode", mode)))
