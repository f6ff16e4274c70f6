"""The local artifact repository: ``<data>/artifacts/<key>``, keys shaped like Argo's default
(``<workflow>/<pod>/<name>.tgz``), tgz or plain files as the artifact's ``archive`` says."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from .confined import Output, open_output
from .volumes import StepFS


class ArtifactError(Exception):
    """An input could not be fetched or an output could not be saved."""


class Repository:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        full = (self.root / key).resolve()
        if not str(full).startswith(str(self.root.resolve()) + os.sep):
            raise ArtifactError(f"artifact key {key!r} leaves the repository")
        return full

    def save(self, src: Path, prefix: str, art: dict[str, Any]) -> str | None:
        """Store the file or folder ``src`` (a host path, taken as a step's only folder, with
        the rules of confined.py) as output ``art``; returns the key (None if absent)."""
        fs = StepFS(tmp=src.parent)
        try:
            output = open_output(fs, f"/tmp/{src.name}")
        except FileNotFoundError:
            return None
        with output:
            return self.store(output, prefix, art)

    def store(self, src: Output, prefix: str, art: dict[str, Any]) -> str:
        """Store a step's open output as output ``art``; returns the key."""
        archive = art.get("archive") or {}
        if "none" in archive:
            src.name = src.name or art["name"]
            key = f"{prefix}/{src.name}"
            dest = self.path(key)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_dir():
                shutil.rmtree(dest, ignore_errors=True)
            if src.is_dir():
                src.extract_to(dest)
            else:
                tmp = dest.with_name(dest.name + ".part")
                tmp.write_bytes(src.read())
                os.replace(tmp, dest)
            return key
        if "zip" in archive:
            raise ArtifactError("zip archives are not supported")
        key = f"{prefix}/{art['name']}.tgz"
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".part")
        with tarfile.open(tmp, "w:gz") as tar:
            src.name = src.name or art["name"]
            src.add_to(tar)
        os.replace(tmp, dest)
        return key

    def place(self, key: str, dest: Path, sub_path: str | None = None) -> None:
        """Unpack stored ``key`` at ``dest`` (a tgz holding one entry becomes that entry)."""
        src = self.path(key)
        if not src.exists():
            raise ArtifactError(f"artifact {key} is missing from the repository")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if sub_path:
            with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
                whole = Path(tmp) / "whole"
                self.place(key, whole)
                part = (whole / sub_path).resolve()
                if not str(part).startswith(str(whole.resolve())) or not part.exists():
                    raise ArtifactError(f"subPath {sub_path} not found in artifact {key}")
                os.replace(part, dest)
            return
        if src.is_dir():
            shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
        elif key.endswith(".tgz"):
            unpack_tgz(src.read_bytes(), dest)
        else:
            shutil.copyfile(src, dest)

    def serve(self, key: str) -> tuple[bytes, str]:
        """Bytes to send for ``key`` and a file name: a single-file tgz is sent as that file."""
        src = self.path(key)
        if src.is_dir():
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                tar.add(src, arcname=src.name)
            return buf.getvalue(), f"{src.name}.tgz"
        data = src.read_bytes()
        if key.endswith(".tgz"):
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                members = tar.getmembers()
                if len(members) == 1 and members[0].isfile():
                    fh = tar.extractfile(members[0])
                    if fh is not None:
                        return fh.read(), os.path.basename(members[0].name)
        return data, src.name

    def delete(self, key: str) -> None:
        """Remove one stored artifact (artifact GC); a missing one is fine."""
        self.path(key).unlink(missing_ok=True)

    def remove_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)


def unpack_tgz(data: bytes, dest: Path) -> None:
    with (
        tempfile.TemporaryDirectory(dir=dest.parent) as tmp,
        tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar,
    ):
        tar.extractall(tmp, filter="data")
        entries = os.listdir(tmp)
        if dest.is_dir():
            shutil.rmtree(dest)
        elif dest.exists():
            dest.unlink()
        if len(entries) == 1:
            os.replace(os.path.join(tmp, entries[0]), dest)
        else:
            os.replace(tmp, dest)
            os.mkdir(tmp)  # so TemporaryDirectory's cleanup finds it


def fetch_http(url: str, dest: Path, headers: list[dict[str, Any]] | None = None) -> None:
    req = urllib.request.Request(url)
    for h in headers or []:
        if "value" in h:
            req.add_header(h["name"], h["value"])
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            data = resp.read()
    except OSError as exc:
        raise ArtifactError(f"GET {url} failed: {exc}") from exc
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
