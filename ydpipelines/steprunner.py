#!/usr/bin/env python3
"""The step runner: runs one Elyra node (notebook, Python script or R script) as one Argo step.

This file is downloaded into arbitrary runtime images and run as
``python3 /tmp/ydp/steprunner.py --kind notebook --file dir/x.ipynb ...`` (see docs/steps.md), so it
is ONE self-contained file that imports only the standard library at import time; papermill and
nbconvert are imported only when a notebook runs (and pip-installed if the image lacks them, as
Elyra's bootstrapper does).

What it does, in order, printing a ``[ydp] ...`` line before each part (a live log reads well):

1. unpacks the node's file and its dependency globs from the bundle zip into the work dir, keeping
   bundle paths (the node runs in its own folder inside the work dir, Elyra's convention);
2. copies the upstream steps' output folders into the node's folder (where Elyra puts them) and
   into ``<out-dir>/outputs/``: a step passes on what it received, so its children see every
   ancestor's files through it alone;
3. runs the node with the environment it was given (pipeline parameters arrive as env vars);
4. collects the declared outputs into ``<out-dir>/outputs/`` (they win over a passed-on file of
   the same name) and Kubeflow's
   ``mlpipeline-metrics.json`` / ``mlpipeline-ui-metadata.json`` into ``<out-dir>/`` (validated;
   local file sources inlined so the app needs only the JSON); a notebook's executed copy goes to
   ``<out-dir>/notebook.ipynb`` and its HTML rendering to ``<out-dir>/notebook.html``.

Metric history: before the node runs, the runner writes the ``ydp_metrics`` helper (Python, and
``ydp_metrics.R``) into a folder it puts on PYTHONPATH and names in $YDP_METRIC_LIB, and points
$YDP_METRIC_LOG at ``<out-dir>/metric-history.jsonl``: ``log_metric(name, value, step)`` appends
one JSON line there per point; the app reads the file when the step ends (docs/steps.md).

Exit code: the node's own exit code (a notebook that raised: 1); 2 for a problem the runner finds
itself (bad bundle, missing file, missing declared output, papermill unavailable); 127 when the
interpreter (Rscript) is absent; 143 when stopped by SIGTERM.

Environment overrides (tests, local runs): YDP_BUNDLE, YDP_WORKDIR, YDP_OUT_DIR give the defaults
of --bundle/--workdir/--out-dir; YDP_CACHE_DIR is where notebook tools an image lacks are
found (the engine binds its step cache there read-only, filled by ``--fill-notebook-tools``, which
the engine runs before a notebook step; a cache that is not writable and lacks them: the step
installs into its own /tmp; default: the step's /tmp);
YDP_NO_PIP_INSTALL=1 forbids installing papermill on the fly;
YDP_PYTHON runs Python scripts with another interpreter than this one.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import io
import json
import math
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath

EXIT_RUNNER_ERROR = 2
EXIT_NOT_FOUND = 127
EXIT_TERMINATED = 143

METRICS_FILE = "mlpipeline-metrics.json"
UI_METADATA_FILE = "mlpipeline-ui-metadata.json"
# Metric history: one JSON line per point, appended by log_metric (docs/steps.md).
METRIC_LOG_FILE = "metric-history.jsonl"
METRIC_LOG_ENV = "YDP_METRIC_LOG"
METRIC_LIB_ENV = "YDP_METRIC_LIB"
UI_TYPES = ("confusion_matrix", "roc", "table", "markdown", "web-app", "tensorboard")
# Kubeflow v1 refuses metric names outside this pattern.
METRIC_NAME = re.compile(r"^[a-zA-Z]([-_a-zA-Z0-9]{0,62}[a-zA-Z0-9])?$")
METRIC_FORMATS = ("RAW", "PERCENTAGE")
MAX_INLINE_BYTES = 20 * 1024 * 1024
REMOTE_SCHEMES = ("gs://", "s3://", "minio://", "http://", "https://", "hdfs://", "abfs://")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class StepError(Exception):
    """A problem the runner reports itself: one clear line, exit code 2."""


def say(message: str) -> None:
    print(f"[ydp] {message}", flush=True)


def warn(message: str) -> None:
    print(f"[ydp] WARNING: {message}", flush=True)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="steprunner.py", description="Run one pipeline node as one step (docs/steps.md)."
    )
    parser.add_argument("--kind", required=True, choices=("notebook", "python", "r"))
    parser.add_argument("--file", required=True, help="the node's file: its path in the bundle")
    parser.add_argument("--bundle", default=os.environ.get("YDP_BUNDLE", "/tmp/ydp/bundle.zip"))
    parser.add_argument("--workdir", default=os.environ.get("YDP_WORKDIR", "/tmp/ydp/work"))
    parser.add_argument("--out-dir", default=os.environ.get("YDP_OUT_DIR", "/tmp/ydp/out"))
    parser.add_argument("--dependency", action="append", default=[], metavar="GLOB")
    parser.add_argument("--include-subdirectories", action="store_true")
    parser.add_argument("--output", action="append", default=[], metavar="FILE")
    parser.add_argument("--upstream", action="append", default=[], metavar="DIR")
    return parser.parse_args(argv)


# --------------------------------------------------------------------------------------------
# Bundle and upstream outputs
# --------------------------------------------------------------------------------------------


def safe_relpath(name: str, what: str) -> PurePosixPath:
    """A relative '/'-separated path that stays inside its root, or StepError naming it."""
    cleaned = name.replace("\\", "/")
    path = PurePosixPath(cleaned)
    if (
        not cleaned
        or cleaned.startswith("/")
        or re.match(r"^[A-Za-z]:", cleaned)
        or ".." in path.parts
    ):
        raise StepError(f"{what} {name!r} escapes the work directory: refusing it")
    return path


def bundle_members(bundle: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The bundle's files by normalized path; any entry escaping the root refuses the bundle."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in bundle.infolist():
        path = safe_relpath(info.filename, "bundle entry")
        if info.is_dir():
            continue
        members[str(path)] = info
    return members


def normalize(raw: str, what: str) -> str:
    """A user-written relative path or glob, '/'-separated, without './'; StepError if it
    escapes its folder."""
    pattern = raw.strip().replace("\\", "/")
    while pattern.startswith("./"):
        pattern = pattern[2:]
    pattern = pattern.rstrip("/")
    if pattern:
        safe_relpath(pattern, what)
    return pattern


def _is_hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/")[:-1])


def _glob_match(rel: str, pattern: str) -> bool:
    """Glob matching where '*' and '?' do not cross '/', as a shell would match."""
    rel_parts, pat_parts = rel.split("/"), pattern.split("/")
    if len(rel_parts) != len(pat_parts):
        return False
    return all(fnmatch.fnmatchcase(r, p) for r, p in zip(rel_parts, pat_parts))  # noqa: B905


def _under(parts: list[str], folder_pattern: str) -> bool:
    """Whether a file (its path split in parts) lies below a folder matching the pattern."""
    return any(_glob_match("/".join(parts[:n]), folder_pattern) for n in range(1, len(parts)))


def select_dependencies(
    files: list[str], patterns: list[str], recursive: bool
) -> tuple[set[str], list[str]]:
    """The files (relative to the node's folder) that the dependency patterns select, and the
    patterns that selected nothing.

    Elyra's rules: a pattern is relative to the node's folder; without include_subdirectories it
    matches files of the folder it names only ("data/*.csv", "*.py", "data"); with it, a
    wildcard also matches in the subfolders of its folder ("*.py" anywhere, "data/*.csv" in data/
    and below) and a folder brings its whole tree. "*" takes the node's folder (and, recursively,
    its subfolders). Hidden folders are skipped unless named."""
    chosen: set[str] = set()
    unmatched: list[str] = []
    for raw in patterns:
        pattern = normalize(raw, "dependency")
        if not pattern:
            continue
        has_wildcard = any(c in pattern for c in "*?[")
        depth = pattern.count("/") + 1
        folder, _, base = pattern.rpartition("/")
        hits = set()
        for rel in files:
            if _is_hidden(rel) and not pattern.startswith("."):
                continue
            parts = rel.split("/")
            if _glob_match(rel, pattern):
                hits.add(rel)
            elif not has_wildcard and rel.startswith(pattern + "/"):
                if recursive or len(parts) == depth + 1:
                    hits.add(rel)  # the pattern names a folder: its files (its tree if recursive)
            elif recursive and (
                _under(parts, pattern)  # inside a folder the pattern matches ("data/*" -> data/a/b)
                # A wildcard also matches in the subfolders of its folder: "*.py" anywhere,
                # "data/*.csv" in data/ and below.
                or (
                    has_wildcard
                    and fnmatch.fnmatchcase(parts[-1], base)
                    and (not folder or _under(parts, folder))
                )
            ):
                hits.add(rel)
        if not hits:
            unmatched.append(raw)
        chosen |= hits
    return chosen, unmatched


def unpack(args: argparse.Namespace, workdir: Path) -> tuple[Path, Path]:
    """Extract the node's file and its dependencies; returns (node folder, node file)."""
    bundle_path = Path(args.bundle)
    if not bundle_path.is_file():
        raise StepError(f"bundle {bundle_path} does not exist")
    node_rel = safe_relpath(args.file.strip("/"), "node file")
    folder = node_rel.parent
    prefix = "" if str(folder) == "." else f"{folder}/"
    say(f"unpacking {node_rel} from {bundle_path}")
    try:
        bundle = zipfile.ZipFile(bundle_path)
    except zipfile.BadZipFile as exc:
        raise StepError(f"bundle {bundle_path} is not a zip file: {exc}") from exc
    with bundle:
        members = bundle_members(bundle)
        if str(node_rel) not in members:
            raise StepError(f"file {str(node_rel)!r} is not in the bundle {bundle_path}")
        in_folder = [name[len(prefix) :] for name in members if name.startswith(prefix)]
        deps, unmatched = select_dependencies(
            in_folder, args.dependency, args.include_subdirectories
        )
        for pattern in unmatched:
            if any(c in pattern for c in "*?["):
                warn(f"dependency {pattern!r} matches no file in the bundle")
            else:
                raise StepError(
                    f"dependency {pattern!r} of {node_rel} is not in the bundle "
                    f"(dependencies are relative to the folder {prefix or './'})"
                )
        wanted = {str(node_rel)} | {prefix + rel for rel in deps}
        root = workdir.resolve()
        for name in sorted(wanted):
            target = (root / name).resolve()
            if root not in target.parents:
                raise StepError(f"bundle entry {name!r} escapes the work directory: refusing it")
            target.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(members[name]) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            mode = (members[name].external_attr >> 16) & 0o777
            if mode:
                os.chmod(target, mode | stat.S_IRUSR | stat.S_IWUSR)
        if deps:
            say(f"dependencies: {', '.join(sorted(deps))}")
    node_dir = root / folder if str(folder) != "." else root
    return node_dir, root / node_rel


def _make_room(target: Path, area: Path) -> None:
    """Make room for the file `target` inside the folder `area`: what comes later wins, so a file
    or folder of the same name that is in the way goes (a warning says so when its kind differs;
    a file replacing a file is the ordinary case)."""
    current = area
    for part in target.relative_to(area).parts[:-1]:
        current = current / part
        if current.exists() and not current.is_dir():
            warn(f"{current.relative_to(area).as_posix()}: a folder replaces the file of that name")
            current.unlink()
    if target.is_dir() and not target.is_symlink():
        warn(f"{target.relative_to(area).as_posix()}: a file replaces the folder of that name")
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)


def _copy_file(src: Path, target: Path, area: Path) -> None:
    _make_room(target, area)
    shutil.copy2(src, target)


def _copy_tree(src: Path, dst: Path, area: Path | None = None) -> list[str]:
    """Copy the files below `src` to `dst` (inside `area`, default `dst`), keeping relative
    paths; returns them."""
    area = dst if area is None else area
    copied = []
    for path in sorted(src.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(src)
        _copy_file(path, dst / rel, area)
        copied.append(rel.as_posix())
    return copied


def _extract_upstream(src: Path, dest: Path) -> int:
    """Extract a tgz artifact that arrived still archived, refusing entries that escape."""
    with tarfile.open(src) as tar:
        members = []
        for member in tar.getmembers():
            name = normalize(member.name, "upstream archive entry")
            if name and (member.isfile() or member.isdir()):
                members.append(member)
        # Python >= 3.12 (and patched 3.8+) can refuse unsafe members on its own too.
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(dest, members=members, **extra)
    return len(members)


def copy_upstream(upstreams: list[str], node_dir: Path, export_dir: Path) -> None:
    """Upstream outputs land in the node's folder, as Elyra downloads its inputs into the cwd,
    and in `export_dir` (out/outputs) too: each step passes on what it received, so a step needs
    only its direct parents' outputs to see every ancestor's files (docs/steps.md). A later
    upstream wins on a name clash; the step's declared outputs, collected later, win over all."""
    export_dir.mkdir(parents=True, exist_ok=True)
    passed_on = set()
    for upstream in upstreams:
        src = Path(upstream)
        if not src.exists():
            say(f"upstream {src}: nothing there (the step declared no output it produced)")
            continue
        if src.is_file() and not tarfile.is_tarfile(src):
            _copy_file(src, node_dir / src.name, node_dir)
            _copy_file(src, export_dir / src.name, export_dir)
            passed_on.add(src.name)
            say(f"upstream {src}: copied {src.name}")
            continue
        with tempfile.TemporaryDirectory(prefix="ydp-upstream-") as tmp:
            root = src
            if src.is_file():
                # A tgz artifact that was not extracted on the way in: extract it safely here.
                root = Path(tmp)
                say(f"upstream {src}: extracted {_extract_upstream(src, root)} entries")
            copied = _copy_tree(root, node_dir)
            _copy_tree(root, export_dir)
            passed_on.update(copied)
        if src.is_dir():
            say(f"upstream {src}: {', '.join(copied) if copied else 'no files'}")
    if passed_on:
        say(f"passing on {len(passed_on)} upstream file(s) with this step's outputs")


# --------------------------------------------------------------------------------------------
# Running the node
# --------------------------------------------------------------------------------------------


class Child:
    """The running child process, so that SIGTERM is passed on to it."""

    process: subprocess.Popen | None = None


def _on_sigterm(signum: int, frame: object) -> None:
    say("stopping: SIGTERM received")
    proc = Child.process
    if proc is not None and proc.poll() is None:
        proc.terminate()
    # SystemExit unwinds papermill too, which shuts its kernel down on the way out.
    raise SystemExit(EXIT_TERMINATED)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_process(cmd: list[str], cwd: Path) -> int:
    Child.process = subprocess.Popen(cmd, cwd=cwd, env=child_env())
    try:
        return Child.process.wait()
    finally:
        Child.process = None


def run_python(node_file: Path, node_dir: Path) -> int:
    python = os.environ.get("YDP_PYTHON") or sys.executable
    say(f"running Python script {node_file.name} with {python}")
    return run_process([python, "-u", str(node_file)], node_dir)


def run_r(node_file: Path, node_dir: Path) -> int:
    rscript = shutil.which("Rscript")
    if rscript is None:
        say("Rscript not found: install R (r-base-core)")
        return EXIT_NOT_FOUND
    say(f"running R script {node_file.name} with {rscript}")
    return run_process([rscript, str(node_file)], node_dir)


# What a notebook step needs; installed into the step's cache when the image lacks them.
NOTEBOOK_TOOLS = ("papermill", "nbconvert", "ipykernel")
FILL_FLAG = "--fill-notebook-tools"  # the engine's fill step (localargo/stepcache.py)


def tools_dir() -> Path:
    """Where this interpreter's notebook tools go: the engine's shared cache ($YDP_CACHE_DIR, a
    folder bound into every step) when there is one, else the step's own /tmp. One folder per
    interpreter (version, ABI, machine, libc) and tool list, so images never share wheels that
    do not fit them."""
    import platform

    base = os.environ.get("YDP_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "ydp", "cache")
    libc = "-".join(platform.libc_ver()) or "nolibc"
    key = f"{sys.implementation.cache_tag}-{platform.machine()}-{libc}-{'-'.join(NOTEBOOK_TOOLS)}"
    return Path(base) / "notebook-tools" / re.sub(r"[^A-Za-z0-9_.-]+", "_", key)


def use_tools(folder: Path) -> None:
    """Put an installed tools folder first on this process's path and its kernels' (PYTHONPATH),
    and its kernel specs on Jupyter's path."""
    sys.path.insert(0, str(folder))
    for var, value in (("PYTHONPATH", folder), ("JUPYTER_PATH", folder / "share" / "jupyter")):
        old = os.environ.get(var)
        os.environ[var] = f"{value}{os.pathsep}{old}" if old else str(value)
    import importlib

    importlib.invalidate_caches()


def pip_command(cache: Path) -> list[str]:
    """pip as this interpreter can run it: the image's own, else the engine's pip.pyz in the
    cache (images without pip); StepError when neither exists."""
    import importlib.util

    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    pyz = cache / "bootstrap" / "pip.pyz"
    if pyz.is_file():
        return [sys.executable, str(pyz)]
    raise StepError(
        "cannot run a notebook: this image has neither papermill nor pip; install papermill, "
        "nbconvert and ipykernel in the runtime image (or use localhost/ydpipelines-runtime)"
    )


def install_tools(target: Path, cache: Path | None = None) -> None:
    """pip install the notebook tools into `target`, once per machine: under a lock, into a
    temporary folder renamed at the end, so that a step that dies half-way leaves nothing a later
    step would take for complete. `cache`: where bootstrap/ is (default: the cache of `target`)."""
    import fcntl

    cache = cache or target.parent.parent
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{target}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent step installing the same waits here
        if target.is_dir():
            say(f"another step installed them meanwhile: using {target}")
            return
        partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        cmd = [*pip_command(cache), "install", "--quiet", "--disable-pip-version-check"]
        cmd += ["--no-warn-script-location", "--target", str(partial)]
        cert = cache / "bootstrap" / "ca-certificates.crt"
        if cert.is_file() and not os.environ.get("PIP_CERT"):
            cmd += ["--cert", str(cert)]  # the engine machine's CAs (a TLS-inspecting proxy)
        say(f"installing {' '.join(NOTEBOOK_TOOLS)} with pip into {target}")
        started = time.monotonic()
        code = run_process([*cmd, *NOTEBOOK_TOOLS], Path(tempfile.gettempdir()))
        if code != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise StepError(
                f"cannot run a notebook: 'pip install {' '.join(NOTEBOOK_TOOLS)}' failed with "
                f"exit code {code}; install them in the runtime image"
            )
        partial.rename(target)
        say(f"installed them in {time.monotonic() - started:.1f} s into {target}")


def import_notebook_tools() -> tuple[object, object, object]:
    """papermill, nbformat, nbconvert: the image's, else those cached for this interpreter,
    else pip-installed into that cache first (as Elyra's bootstrapper does, but never into the
    image's or the host's Python)."""
    try:
        import nbconvert
        import nbformat
        import papermill

        return papermill, nbformat, nbconvert
    except ImportError as exc:
        missing = exc.name or str(exc)
    say(f"papermill/nbconvert are not installed in this image ({missing} is missing)")
    target = tools_dir()
    if target.is_dir():
        say(f"using the notebook tools cached in {target} (installed by an earlier step)")
    elif os.environ.get("YDP_NO_PIP_INSTALL") == "1":
        raise StepError(
            "cannot run a notebook: install papermill and nbconvert in the runtime image "
            "(pip install papermill nbconvert ipykernel)"
        )
    elif os.access(target.parent, os.W_OK):
        install_tools(target)
    else:  # the engine's cache is read-only to steps (its fill step writes it): our own /tmp
        cache = target.parent.parent
        private = Path(tempfile.gettempdir()) / "ydp" / "notebook-tools" / target.name
        say(f"the step cache {cache} is read-only and lacks them: installing for this step only")
        if not private.is_dir():
            install_tools(private, cache)
        target = private
    use_tools(target)
    try:
        import nbconvert
        import nbformat
        import papermill
    except ImportError as again:
        raise StepError(
            f"cannot run a notebook: papermill/nbconvert still missing from {target} ({again})"
        ) from again
    return papermill, nbformat, nbconvert


def fill_notebook_tools() -> int:
    """``--fill-notebook-tools``: the engine's trusted fill step (stepcache.py), the only one
    that may write the step cache: install the notebook tools this interpreter lacks there,
    unless the image has them or they are there already. Exit code 0, else 2 with why."""
    import importlib.util

    if all(importlib.util.find_spec(name) is not None for name in NOTEBOOK_TOOLS):
        say("this image has the notebook tools: nothing to cache")
        return 0
    target = tools_dir()
    if target.is_dir():
        say(f"the notebook tools for this interpreter are cached in {target}")
        return 0
    try:
        install_tools(target)
    except StepError as exc:
        say(f"error: {exc}")
        return EXIT_RUNNER_ERROR
    return 0


def choose_kernel(nb_path: Path) -> tuple[str, bool]:
    """The kernel to run the notebook with (its own if installed, else python3), and whether it
    is ipykernel."""
    try:
        metadata = json.loads(nb_path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError) as exc:
        raise StepError(f"notebook {nb_path.name} is not valid JSON: {exc}") from exc
    wanted = (metadata.get("kernelspec") or {}).get("name") or "python3"
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        manager = KernelSpecManager()
        available = set(manager.find_kernel_specs())
        if wanted not in available:
            fallback = "python3"
            warn(f"kernel {wanted!r} of {nb_path.name} is not installed here: using {fallback!r}")
            wanted = fallback
        argv = manager.get_kernel_spec(wanted).argv
    except Exception:  # any failure here just means: trust the notebook's kernel name
        return wanted, False
    return wanted, any("ipykernel" in part for part in argv)


def run_notebook(node_file: Path, node_dir: Path, out_dir: Path) -> int:
    papermill, nbformat, nbconvert = import_notebook_tools()
    import logging

    class TrimNewline(logging.Filter):
        """Cell output already ends with a newline: avoid a blank line after each print."""

        def filter(self, record: logging.LogRecord) -> bool:
            if isinstance(record.msg, str):
                record.msg = record.msg.rstrip("\n")
            return True

    # papermill's log_output=True logs each cell's output as it comes: that is the live log.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(TrimNewline())
    pm_logger = logging.getLogger("papermill")
    pm_logger.addHandler(handler)
    pm_logger.setLevel(logging.INFO)
    pm_logger.propagate = False

    kernel, ipykernel = choose_kernel(node_file)
    # ipykernel's own start-up chatter (a warning about TCP transport) is noise in a step's log.
    extra = ["--IPKernelApp.log_level=ERROR"] if ipykernel else []
    executed = out_dir / "notebook.ipynb"
    say(f"running notebook {node_file.name} with kernel {kernel}")
    code = 0
    try:
        papermill.execute_notebook(
            str(node_file),
            str(executed),
            kernel_name=kernel,
            cwd=str(node_dir),
            log_output=True,
            progress_bar=False,
            request_save_on_cell_execute=True,
            extra_arguments=extra,
        )
    except papermill.PapermillExecutionError as exc:
        code = 1
        say(f"notebook {node_file.name} raised {exc.ename} in cell {exc.exec_count}: {exc.evalue}")
        for line in exc.traceback:
            print(ANSI.sub("", line), flush=True)
    except Exception as exc:  # kernel death, unreadable notebook...: report, render, go on
        code = 1
        say(f"notebook {node_file.name} could not run: {type(exc).__name__}: {exc}")
    finally:
        render_html(executed, out_dir / "notebook.html", nbformat, nbconvert)
    return code


def render_html(executed: Path, html_path: Path, nbformat: object, nbconvert: object) -> None:
    if not executed.is_file():
        warn("no executed notebook was written: no HTML rendering")
        return
    try:
        nb = nbformat.read(str(executed), as_version=4)
        body, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
        html_path.write_text(body, encoding="utf-8")
        say(f"rendered the executed notebook to {html_path.name}")
    except Exception as exc:  # the step's own result matters more than its HTML
        warn(f"could not render the executed notebook to HTML: {exc}")


# --------------------------------------------------------------------------------------------
# The metric history helper a step imports (Python) or sources (R)
# --------------------------------------------------------------------------------------------

# Written to <lib>/ydp_metrics.py; standard library only, as every image has it.
PYTHON_HELPER = r'''"""log_metric(name, value, step=None): one point of a metric's history.

Each call appends a JSON line {"name", "value", "step", "time"} to the file $YDP_METRIC_LOG names;
the app reads it when the step ends and draws each metric's history; the last point is the
metric's value in the runs list. Without $YDP_METRIC_LOG (outside a pipeline) it only prints.
"""

import json
import math
import os
import re
import time

__all__ = ["log_metric"]

_NAME = re.compile(r"^[a-zA-Z]([-_a-zA-Z0-9]{0,62}[a-zA-Z0-9])?$")
_last_step = {}


def log_metric(name, value, step=None):
    """Record `value` for the metric `name` at `step` (an int >= 0: the epoch, the
    iteration; default: the previous step of this name + 1, starting at 0)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            "log_metric: name %r must be 1-64 letters, digits, '-' or '_', starting with a "
            "letter" % (name,)
        )
    if isinstance(value, (bool, str, bytes)):
        raise TypeError("log_metric: value %r of %s is not a number" % (value, name))
    value = float(value)
    if step is None:
        step = _last_step.get(name, -1) + 1
    elif isinstance(step, bool) or float(step) != int(step) or int(step) < 0:
        raise ValueError("log_metric: step %r of %s must be an integer >= 0" % (step, name))
    step = int(step)
    _last_step[name] = step
    # A NaN or infinite value is written as is: the app skips it with a note on the step.
    line = json.dumps({"name": name, "value": value, "step": step, "time": round(time.time(), 3)})
    path = os.environ.get("YDP_METRIC_LOG")
    if not path:
        print("[ydp] metric %s[%d] = %r (not recorded: no pipeline step)" % (name, step, value))
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
'''

# Written to <lib>/ydp_metrics.R: source(file.path(Sys.getenv("YDP_METRIC_LIB"), "ydp_metrics.R")).
R_HELPER = r"""# log_metric(name, value, step = NULL): one point of a metric's history.
# Appends a JSON line {"name", "value", "step", "time"} to the file $YDP_METRIC_LOG names.
.ydp_last_step <- new.env()
log_metric <- function(name, value, step = NULL) {
  if (!is.character(name) || length(name) != 1 ||
      !grepl("^[a-zA-Z]([-_a-zA-Z0-9]{0,62}[a-zA-Z0-9])?$", name)) {
    stop("log_metric: name must be 1-64 letters, digits, '-' or '_', starting with a letter")
  }
  value <- as.numeric(value)[1]
  if (is.null(step)) {
    last <- .ydp_last_step[[name]]
    step <- if (is.null(last)) 0 else last + 1
  }
  step <- as.integer(step)
  assign(name, step, envir = .ydp_last_step)
  line <- sprintf('{"name": "%s", "value": %s, "step": %d, "time": %.3f}',
                  name, format(value, digits = 17), step, as.numeric(Sys.time()))
  path <- Sys.getenv("YDP_METRIC_LOG")
  if (path == "") {
    message("[ydp] metric ", name, "[", step, "] = ", value, " (not recorded: no pipeline step)")
  } else {
    cat(line, "\n", file = path, append = TRUE, sep = "")
  }
  invisible(NULL)
}
"""


def install_metric_helpers(lib: Path, log_path: Path) -> None:
    """Write the log_metric helpers to `lib` and point this process's environment (which the
    node, a notebook's kernel included, inherits) at them and at the history file."""
    lib.mkdir(parents=True, exist_ok=True)
    (lib / "ydp_metrics.py").write_text(PYTHON_HELPER, encoding="utf-8")
    (lib / "ydp_metrics.R").write_text(R_HELPER, encoding="utf-8")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    os.environ[METRIC_LOG_ENV] = str(log_path)
    os.environ[METRIC_LIB_ENV] = str(lib)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = f"{lib}{os.pathsep}{old}" if old else str(lib)


# --------------------------------------------------------------------------------------------
# Outputs, metrics and visualizations
# --------------------------------------------------------------------------------------------


def collect_outputs(patterns: list[str], node_dir: Path, out_dir: Path, strict: bool) -> list[str]:
    """Copy the declared outputs (globs allowed, relative to the node folder) to out/outputs/."""
    collected: list[str] = []
    missing: list[str] = []
    dest_root = out_dir / "outputs"
    for raw in patterns:
        pattern = normalize(raw, "output")
        if not pattern:
            continue
        matches = sorted(node_dir.glob(pattern)) if any(c in pattern for c in "*?[") else []
        if not matches and (node_dir / pattern).exists():
            matches = [node_dir / pattern]
        if not matches:
            missing.append(pattern)
            continue
        for match in matches:
            rel = match.relative_to(node_dir)
            # Declared outputs replace what the step passes on from upstream (same name).
            if match.is_dir():
                copied = _copy_tree(match, dest_root / rel, dest_root)
                collected += [f"{rel.as_posix()}/{f}" for f in copied]
            else:
                _copy_file(match, dest_root / rel, dest_root)
                collected.append(rel.as_posix())
    say(f"collected outputs: {', '.join(collected) if collected else 'none'}")
    if missing:
        message = "declared output(s) not produced: " + ", ".join(repr(m) for m in missing)
        if strict:
            raise StepError(message)
        warn(message)
    return collected


def _read_json(path: Path) -> object | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        warn(f"ignoring {path.name}: it is not valid JSON ({exc})")
        return None


def clean_metrics(data: object) -> list[dict]:
    """The valid Kubeflow v1 metrics of `data`; a warning for each one dropped."""
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), list):
        warn(
            f"ignoring {METRICS_FILE}: expected "
            '{"metrics": [{"name": ..., "numberValue": ..., "format": "RAW"}]}'
        )
        return []
    kept = []
    for i, metric in enumerate(data["metrics"]):
        where = f"{METRICS_FILE} metrics[{i}]"
        if not isinstance(metric, dict):
            warn(f"ignoring {where}: not an object")
            continue
        name, value = metric.get("name"), metric.get("numberValue")
        fmt = metric.get("format", "RAW")
        if not isinstance(name, str) or not METRIC_NAME.match(name):
            warn(f"ignoring {where}: name {name!r} must match {METRIC_NAME.pattern}")
            continue
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                value = None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            warn(
                f"ignoring {where} ({name}): "
                f"numberValue {metric.get('numberValue')!r} is not a number"
            )
            continue
        if fmt not in METRIC_FORMATS:
            warn(f"{where} ({name}): format {fmt!r} is not RAW or PERCENTAGE; using RAW")
            fmt = "RAW"
        kept.append({"name": name, "numberValue": value, "format": fmt})
    return kept


def _local_source(source: str, node_dir: Path) -> Path | None:
    """The local file a ui-metadata source names, or None for a remote URI."""
    if source.startswith("file://"):
        source = source[len("file://") :]
    elif source.startswith(REMOTE_SCHEMES) or re.match(r"^[a-z][a-z0-9+.-]*://", source):
        return None
    path = Path(source)
    return path if path.is_absolute() else node_dir / path


def _check_csv(entry: dict, where: str) -> bool:
    width = None
    if entry["type"] in ("confusion_matrix", "roc") and isinstance(entry.get("schema"), list):
        width = len(entry["schema"])
    elif entry["type"] == "table" and isinstance(entry.get("header"), list):
        width = len(entry["header"])
    rows = [r for r in csv.reader(io.StringIO(entry["source"])) if r]
    bad = [n for n, r in enumerate(rows, 1) if width is not None and len(r) != width]
    if bad:
        warn(
            f"ignoring {where}: CSV row {bad[0]} has {len(rows[bad[0] - 1])} fields, "
            f"expected {width}"
        )
        return False
    return True


def clean_ui_metadata(data: object, node_dir: Path) -> list[dict]:
    """The valid Kubeflow v1 output viewers of `data`, local file sources inlined."""
    if not isinstance(data, dict) or not isinstance(data.get("outputs"), list):
        warn(
            f'ignoring {UI_METADATA_FILE}: expected {{"outputs": [{{"type": ..., "source": ...}}]}}'
        )
        return []
    required = {
        "confusion_matrix": ("schema", "labels"),
        "roc": ("schema",),
        "table": ("header",),
    }
    kept = []
    for i, entry in enumerate(data["outputs"]):
        where = f"{UI_METADATA_FILE} outputs[{i}]"
        if not isinstance(entry, dict):
            warn(f"ignoring {where}: not an object")
            continue
        kind = entry.get("type")
        if kind not in UI_TYPES:
            warn(f"ignoring {where}: type {kind!r} is not one of {', '.join(UI_TYPES)}")
            continue
        where = f"{where} ({kind})"
        source = entry.get("source")
        if not isinstance(source, str) or not source:
            warn(f"ignoring {where}: it has no source")
            continue
        absent = [k for k in required.get(kind, ()) if not isinstance(entry.get(k), list)]
        if absent:
            warn(f"ignoring {where}: {', '.join(absent)} missing (a list is required)")
            continue
        entry = dict(entry)
        if entry.get("storage") != "inline" and kind != "tensorboard":
            path = _local_source(source, node_dir)
            if path is not None:
                if not path.is_file():
                    warn(f"ignoring {where}: source file {source!r} does not exist")
                    continue
                if path.stat().st_size > MAX_INLINE_BYTES:
                    warn(f"ignoring {where}: source file {source!r} is larger than 20 MB")
                    continue
                entry["source"] = path.read_text(encoding="utf-8", errors="replace")
                entry["storage"] = "inline"
        if kind in ("confusion_matrix", "roc", "table") and entry.get("storage") == "inline":
            entry.setdefault("format", "csv")
            if entry["format"] != "csv":
                warn(f"ignoring {where}: format {entry['format']!r} is not csv")
                continue
            if not _check_csv(entry, where):
                continue
        kept.append(entry)
    return kept


def collect_kubeflow_files(node_dir: Path, out_dir: Path) -> None:
    metrics_src = node_dir / METRICS_FILE
    if metrics_src.is_file():
        data = _read_json(metrics_src)
        metrics = clean_metrics(data) if data is not None else []
        if metrics:
            write_json(out_dir / METRICS_FILE, {"metrics": metrics})
            shown = ", ".join(f"{m['name']}={m['numberValue']:g}" for m in metrics)
            say(f"collected metrics: {shown}")
    ui_src = node_dir / UI_METADATA_FILE
    if ui_src.is_file():
        data = _read_json(ui_src)
        outputs = clean_ui_metadata(data, node_dir) if data is not None else []
        if outputs:
            write_json(out_dir / UI_METADATA_FILE, {"outputs": outputs})
            say(f"collected visualizations: {', '.join(o['type'] for o in outputs)}")


def write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    # Refuse paths that escape the node's folder before anything runs, not after.
    for output in args.output:
        normalize(output, "output")
    for dependency in args.dependency:
        normalize(dependency, "dependency")
    workdir, out_dir = Path(args.workdir), Path(args.out_dir)
    workdir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    node_dir, node_file = unpack(args, workdir)
    node_dir.mkdir(parents=True, exist_ok=True)
    # out/outputs always exists: a step with nothing to pass on still yields its (empty)
    # `outputs` artifact, so a child's input from it always resolves.
    copy_upstream(args.upstream, node_dir, out_dir / "outputs")
    install_metric_helpers(
        out_dir.resolve().parent / "ydp-lib", out_dir.resolve() / METRIC_LOG_FILE
    )
    if args.kind == "notebook":
        code = run_notebook(node_file, node_dir, out_dir.resolve())
    elif args.kind == "python":
        code = run_python(node_file, node_dir)
    else:
        code = run_r(node_file, node_dir)
    say(f"{node_file.name} finished with exit code {code}")
    if code == EXIT_NOT_FOUND and args.kind == "r":
        return code
    # On failure, keep what the node did produce (it helps to understand it) but do not add a
    # "missing output" error on top of the real one.
    collect_kubeflow_files(node_dir, out_dir)
    collect_outputs(args.output, node_dir, out_dir, strict=code == 0)
    return code


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv) == [FILL_FLAG]:
        return fill_notebook_tools()
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = time.monotonic()
    try:
        code = run(args)
    except StepError as exc:
        say(f"error: {exc}")
        code = EXIT_RUNNER_ERROR
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_RUNNER_ERROR
    say(f"exit code {code} ({time.monotonic() - started:.1f} s)")
    return code


if __name__ == "__main__":
    sys.exit(main())
