"""Reading uploaded zips safely and writing the version's bundle zip.

An uploaded zip is untrusted: its entry names may climb out of the folder (`../`, absolute paths,
drive letters), its headers may lie about sizes, and a few kilobytes may inflate to gigabytes.
Every entry is read with a hard budget, so a bomb is refused after reading at most the limit.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import stat
import zipfile
from collections.abc import Mapping

from django.conf import settings

from apps.pipelines.importers import PipelineImportError

# Entries that archivers add and that are never part of a pipeline.
_JUNK_PREFIXES = ("__MACOSX/",)
_JUNK_NAMES = {".DS_Store", "Thumbs.db"}
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def max_upload_bytes() -> int:
    return int(getattr(settings, "YDP_MAX_UPLOAD_BYTES", 32 * 1024 * 1024))


def max_unzipped_bytes() -> int:
    # What a bundle may weigh once inflated: generous for data files, bounded for bombs.
    return int(getattr(settings, "YDP_MAX_UNZIPPED_BYTES", 8 * max_upload_bytes()))


def max_zip_entries() -> int:
    return int(getattr(settings, "YDP_MAX_ZIP_ENTRIES", 5000))


# A ratio above this on an entry bigger than _RATIO_FLOOR bytes is treated as a bomb; real
# notebooks and CSVs compress 5-20x, text of one repeated byte compresses ~1000x.
MAX_RATIO = 200
_RATIO_FLOOR = 1024 * 1024


def check_size(upload_name: str, data: bytes) -> None:
    limit = max_upload_bytes()
    if len(data) > limit:
        raise PipelineImportError(
            f"{upload_name} is {_mib(len(data))}, over the {_mib(limit)} upload limit."
        )


def safe_member_name(name: str, *, archive: str) -> str:
    """The entry's path, "/"-separated and relative; refuses anything that leaves the folder."""
    clean = name.replace("\\", "/")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        raise PipelineImportError(
            f"{archive}: entry {name!r} has an absolute path; zip the pipeline folder itself."
        )
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PipelineImportError(
            f"{archive}: entry {name!r} points outside the folder ('..' in its path)."
        )
    return "/".join(parts)


def read_zip(upload_name: str, data: bytes) -> dict[str, bytes]:
    """The files of a zip as {relative path: bytes}, with junk entries and directories left out.

    Raises PipelineImportError for a corrupt zip, path traversal, links, too many entries, or
    more inflated bytes than allowed (counted while reading, not trusted from the headers)."""
    check_size(upload_name, data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise PipelineImportError(f"{upload_name} is not a valid zip file ({exc}).") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > max_zip_entries():
            raise PipelineImportError(
                f"{upload_name} holds {len(infos)} entries, more than the {max_zip_entries()} "
                "allowed."
            )
        budget = max_unzipped_bytes()
        files: dict[str, bytes] = {}
        for info in infos:
            name = safe_member_name(info.filename, archive=upload_name)
            if info.is_dir() or not name:
                continue
            if name.startswith(_JUNK_PREFIXES) or posixpath.basename(name) in _JUNK_NAMES:
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise PipelineImportError(
                    f"{upload_name}: entry {info.filename!r} is a symbolic link; links are "
                    "not accepted in a pipeline zip."
                )
            if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                raise PipelineImportError(
                    f"{upload_name}: entry {info.filename!r} inflates {info.file_size} bytes "
                    f"from {info.compress_size} (ratio over {MAX_RATIO}); refused as a zip bomb."
                )
            if name in files:
                raise PipelineImportError(f"{upload_name}: entry {name!r} appears twice.")
            files[name] = _read_member(archive, info, upload_name, budget)
            budget -= len(files[name])
    return files


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, upload: str, budget: int
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as fh:
            while True:
                chunk = fh.read(1024 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > _RATIO_FLOOR and size > MAX_RATIO * max(info.compress_size, 1):
                    # The header may understate the size: check the ratio on what was read.
                    raise PipelineImportError(
                        f"{upload}: entry {info.filename!r} inflates to over {MAX_RATIO} times "
                        "its compressed size; refused as a zip bomb."
                    )
                if size > budget:
                    raise PipelineImportError(
                        f"{upload}: the files inflate to more than {_mib(max_unzipped_bytes())} "
                        f"(reached at entry {info.filename!r}); refused as a zip bomb."
                    )
                chunks.append(chunk)
    except PipelineImportError:
        raise
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, ValueError) as exc:
        # RuntimeError: encrypted entries; BadZipFile: CRC mismatch or corrupt data.
        raise PipelineImportError(
            f"{upload}: cannot read entry {info.filename!r} ({exc})."
        ) from exc
    return b"".join(chunks)


def strip_common_root(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """A zip of a folder holds `folder/...`: drop that single top folder."""
    tops = {name.split("/", 1)[0] for name in files}
    if len(tops) == 1 and all("/" in name for name in files):
        return {name.split("/", 1)[1]: body for name, body in files.items()}
    return dict(files)


def build_bundle(files: Mapping[str, bytes]) -> bytes:
    """A deterministic zip (sorted names, fixed dates), so equal content gives equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return out.getvalue()


def content_hash(files: Mapping[str, bytes]) -> str:
    """sha256 over the sorted (path, file digest) pairs: independent of zip encoding."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"
