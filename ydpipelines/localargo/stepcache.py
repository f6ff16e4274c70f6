"""The step cache: one folder of the engine (``<data>/cache``, like a volume every pod mounts)
that the container executor binds into each step at ``/var/cache/ydp``, read-only, and names in
``$YDP_CACHE_DIR``. It holds the notebook tools an image lacks (papermill, nbconvert,
ipykernel), once per interpreter, so the second notebook step of any run on this machine starts
without pip.

Steps cannot write it: what one step leaves there, every later step of every run would import.
Only the engine writes it, and one trusted fill step per image: before a notebook step (the step
runner with ``--kind notebook``) in an image it has not filled yet, the engine runs the image's
``python3`` on the engine's own copy of the step runner (``bootstrap/steprunner.py``) with
``--fill-notebook-tools`` and nothing of the step (no command, env or volume of it), with
``notebook-tools/`` writable; that installs the tools unless the image has them or they are
cached already.

``bootstrap/`` holds what an image may lack to install anything: ``pip.pyz``, the engine's own
pip as a zip application (Debian's python3 comes without pip), ``ca-certificates.crt``, the
engine machine's CA bundle (images may have none, and a TLS-inspecting proxy's CA is only the
host's), and the step runner the fill step runs.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import ssl
import tempfile
import zipapp
from dataclasses import dataclass
from pathlib import Path

MOUNT = "/var/cache/ydp"
ENV = "YDP_CACHE_DIR"


TOOLS = "notebook-tools"
RUNNER = Path(__file__).resolve().parents[1] / "steprunner.py"
FILL = ["python3", f"{MOUNT}/bootstrap/steprunner.py", "--fill-notebook-tools"]


@dataclass
class StepCache:
    root: Path

    def volumes(self) -> list[str]:
        """The container CLI's options that bind the cache into a step: read-only."""
        return ["--volume", f"{self.root}:{MOUNT}:ro", "--env", f"{ENV}={MOUNT}"]

    def fill_volumes(self) -> list[str]:
        """The same for the fill step: ``notebook-tools/`` writable, the rest read-only."""
        tools = self.root / TOOLS
        return [*self.volumes(), "--volume", f"{tools}:{MOUNT}/{TOOLS}"]


def needs_notebook_tools(argv: list[str]) -> bool:
    """Whether a step's command line is the step runner running a notebook."""
    args = [str(a) for a in argv]
    if not any(a.endswith("steprunner.py") for a in args):
        return False
    return "--kind=notebook" in args or ("--kind", "notebook") in itertools.pairwise(args)


def prepare(data: Path) -> StepCache:
    """Create (or refresh) the cache of the engine whose data folder is ``data``. Raises
    OSError when it cannot be written."""
    root = Path(data).resolve() / "cache"
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    tools = root / TOOLS
    tools.mkdir(exist_ok=True)
    tools.chmod(0o1777)  # the fill step runs as --step-user (65534 by default)
    boot = root / "bootstrap"
    boot.mkdir(exist_ok=True)
    boot.chmod(0o755)
    _write_pip_pyz(boot / "pip.pyz")
    _replace(boot / "steprunner.py", RUNNER.read_bytes())
    cafile = _ca_bundle()
    if cafile is not None:
        _replace(boot / "ca-certificates.crt", Path(cafile).read_bytes())
    return StepCache(root)


def _ca_bundle() -> str | None:
    """The CA bundle this machine's pip and OpenSSL trust."""
    paths = ssl.get_default_verify_paths()
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        os.environ.get("REQUESTS_CA_BUNDLE"),
        paths.cafile,
        paths.openssl_cafile,
    ):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def _write_pip_pyz(target: Path) -> None:
    """The engine's pip as a zip application, rebuilt only when that pip changes."""
    import pip

    source = Path(pip.__file__).parent
    stamp = hashlib.sha1(f"{pip.__version__} {source}".encode()).hexdigest()[:12]
    marker = target.with_suffix(".version")
    if target.is_file() and marker.is_file() and marker.read_text() == stamp:
        return
    with tempfile.TemporaryDirectory(prefix="ydp-pip-") as tmp:
        staging = Path(tmp) / "app"
        shutil.copytree(source, staging / "pip", ignore=shutil.ignore_patterns("__pycache__"))
        (staging / "__main__.py").write_text(
            "import runpy\nrunpy.run_module('pip', run_name='__main__', alter_sys=True)\n"
        )
        built = Path(tmp) / "pip.pyz"
        zipapp.create_archive(staging, built, interpreter="/usr/bin/env python3")
        _replace(target, built.read_bytes())
    marker.write_text(stamp)


def _replace(target: Path, data: bytes) -> None:
    """Write ``target`` atomically (a step may be reading it), readable by every step."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    tmp.replace(target)
