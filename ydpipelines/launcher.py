"""Start the whole app in one terminal: web, Celery worker, Celery beat and the embedded engine.

`python -m ydpipelines.launcher` (what `make run` calls). Each process's output is prefixed with
its name; Ctrl-C (or any process dying) stops them all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLOURS = {"web": 32, "worker": 33, "beat": 35, "engine": 36}


def commands(env: dict[str, str]) -> dict[str, list[str]]:
    python = sys.executable
    port = env.get("PORT", "8000")
    # Loopback unless asked: with DEBUG on (the default) runserver's technical 500 pages show
    # settings and tracebacks, which must not reach the network.
    host = env.get("HOST", "127.0.0.1")
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    procs = {
        "web": [python, "manage.py", "runserver", address, "--noreload"],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "ydpipelines",
            "worker",
            "--loglevel",
            env.get("WORKER_LOG_LEVEL", "WARNING"),
            "--concurrency",
            env.get("WORKER_CONCURRENCY", "2"),
        ],
        # Beat sends a sync every second: at INFO it would drown everything else.
        "beat": [python, "-m", "celery", "-A", "ydpipelines", "beat", "--loglevel", "WARNING"],
    }
    if not env.get("ARGO_SERVER"):
        engine_dir = env.get("YDP_ENGINE_DATA_DIR", str(ROOT / "var" / "engine"))
        procs["engine"] = [
            python,
            "-m",
            "ydpipelines.localargo",
            "--host",
            "127.0.0.1",
            "--port",
            env.get("YDP_ENGINE_PORT", "2746"),
            "--data",
            engine_dir,
            # Steps run in their images when podman works (scripts/setup.sh builds them), else
            # on the host: LOCALARGO_EXECUTOR=host|container chooses.
            "--executor",
            env.get("LOCALARGO_EXECUTOR") or "auto",
        ]
    return procs


def _pump(name: str, stream, lock: threading.Lock) -> None:
    colour = COLOURS.get(name, 37)
    prefix = f"\033[{colour}m{name:>6} |\033[0m " if sys.stdout.isatty() else f"{name:>6} | "
    for line in iter(stream.readline, ""):
        with lock:
            sys.stdout.write(prefix + line)
            sys.stdout.flush()


def main() -> int:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("DJANGO_SETTINGS_MODULE", "ydpipelines.settings")
    if not env.get("ARGO_SERVER"):
        # The app's processes find the embedded engine on the port it is started on.
        env.setdefault("YDP_ENGINE_URL", f"http://127.0.0.1:{env.get('YDP_ENGINE_PORT', '2746')}")
    env.setdefault("YDP_PUBLIC_URL", f"http://127.0.0.1:{env.get('PORT', '8000')}")
    lock = threading.Lock()
    children: dict[str, subprocess.Popen] = {}
    order = ["engine", "web", "worker", "beat"]
    procs = commands(env)
    for name in order:
        if name not in procs:
            continue
        children[name] = subprocess.Popen(
            procs[name],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        threading.Thread(
            target=_pump, args=(name, children[name].stdout, lock), daemon=True
        ).start()
    port = env.get("PORT", "8000")
    print(f"ydpipelines is starting: open http://127.0.0.1:{port}/ (Ctrl-C stops everything)")

    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with code {child.returncode}; stopping the others")
                exit_code = child.returncode or 1
                stopping = True
                break
        time.sleep(0.3)
    for child in children.values():
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
