"""`ydp`: the ydpipelines command line.

Exit codes: 0 done (for `run --wait` and `wait`: the run Succeeded); 1 the run ended Failed,
Error, Terminated or Skipped; 2 wrong usage (bad arguments, a file that is not there, not logged
in); 3 the server refused or could not be reached, or the wait timed out. Errors are one line on
stderr."""

from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from ydp.client import ApiError, Client

FINAL_STATES = {"Succeeded", "Failed", "Error", "Terminated", "Skipped"}
SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", ".venv", "node_modules"}
EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_API = 0, 1, 2, 3


class UsageError(Exception):
    pass


# -- configuration ------------------------------------------------------------------------------


def config_path() -> Path:
    if os.environ.get("YDP_CONFIG"):
        return Path(os.environ["YDP_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ydp" / "config.json"


def load_config() -> dict[str, str]:
    """The saved URL and token; YDP_URL and YDP_TOKEN win (CI sets them as secrets)."""
    saved: dict[str, str] = {}
    path = config_path()
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except ValueError:
            raise UsageError(f"{path} is not JSON: run `ydp login` again") from None
    url = os.environ.get("YDP_URL") or saved.get("url", "")
    token = os.environ.get("YDP_TOKEN") or saved.get("token", "")
    if not url or not token:
        raise UsageError("not logged in: run `ydp login URL` (or set YDP_URL and YDP_TOKEN)")
    return {"url": url, "token": token}


def save_config(url: str, token: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created 0600 before the token is written: no moment where others could read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "token": token}, handle)
    os.chmod(path, 0o600)
    return path


def client() -> Client:
    config = load_config()
    return Client(config["url"], config["token"])


# -- commands -----------------------------------------------------------------------------------


def cmd_login(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("YDP_TOKEN", "")
    if not token:
        if sys.stdin.isatty():
            token = getpass.getpass("Token (Settings > API tokens): ")
        else:
            token = sys.stdin.readline()
    token = token.strip()
    if not token.startswith("ydp_"):
        raise UsageError("a token starts with ydp_: create one under Settings > API tokens")
    url = args.url.rstrip("/")
    Client(url, token).get("/pipelines", limit=1)  # refuses a wrong URL or token now
    path = save_config(url, token)
    print(f"Logged in to {url}; saved in {path}")
    return EXIT_OK


def _pipeline_archive(path: Path) -> tuple[str, bytes]:
    """A .pipeline file zipped with the files of its folder (what its nodes run)."""
    folder = path.parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.rglob("*")):
            relative = file.relative_to(folder)
            if file.is_file() and not (set(relative.parts[:-1]) & SKIP_DIRS):
                if file.suffix == ".pipeline" and file != path:
                    continue  # another pipeline of the folder is not part of this one
                archive.write(file, relative.as_posix())
    return f"{path.stem}.zip", buffer.getvalue()


def _compile_hera(path: Path) -> bytes:
    """Hera Python compiled to Argo YAML on this machine, by the project's ydp-compile-hera
    (the server never runs uploaded Python)."""
    try:
        import ydpipelines.hera_compile  # noqa: F401 - the project installed here
    except ImportError:
        command = ["ydp-compile-hera", str(path)]
    else:
        command = [sys.executable, "-m", "ydpipelines.hera_compile", str(path)]
    try:
        done = subprocess.run(command, capture_output=True, check=False)
    except FileNotFoundError:
        raise UsageError(
            "compiling a Hera file needs ydp-compile-hera (pip install ydpipelines hera) on this "
            "machine; or compile it yourself and upload the YAML"
        ) from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(message[-1] if message else f"{path}: the Hera file did not compile")
    return done.stdout


def cmd_upload(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.suffix == ".pipeline":
        name, data = _pipeline_archive(path)
    elif path.suffix == ".py":
        name, data = f"{path.stem}.yaml", _compile_hera(path)
    else:
        name, data = path.name, path.read_bytes()
    version = client().upload(
        name, data, pipeline=args.pipeline or path.stem, version_name=args.version or "",
        description=args.description or "", project=args.project,
    )  # fmt: skip
    print(version["id"])
    print(f"Uploaded {version['pipeline']['name']} {version['name']}", file=sys.stderr)
    return EXIT_OK


def _parameters(pairs: list[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-p {pair!r}: use -p KEY=VALUE")
        values[key.strip()] = value
    return values


def wait_for(api: Client, run_id: str, timeout: float, interval: float = 2.0) -> dict[str, Any]:
    """The run once it has ended and its outputs (logs, artifacts, metrics) are readable: the
    server copies them just after the end and says `outputs_pending` until then (a server
    without the field is taken at its state)."""
    deadline = time.monotonic() + timeout
    while True:
        run = api.run(run_id)
        ended = run["state"] in FINAL_STATES
        if ended and not run.get("outputs_pending", False):
            return run
        if time.monotonic() > deadline:
            if ended:
                raise ApiError(
                    0,
                    f"run {run_id} ended {run['state']}, but its outputs are still being copied "
                    f"after {timeout:.0f} s (is a worker running?)",
                )
            raise ApiError(0, f"run {run_id} is still {run['state']} after {timeout:.0f} s")
        time.sleep(interval)


def _exit_for(run: dict[str, Any]) -> int:
    message = f": {run['message']}" if run.get("message") else ""
    print(f"{run['state']}{message}", file=sys.stderr)
    return EXIT_OK if run["state"] == "Succeeded" else EXIT_RUN_FAILED


def cmd_run(args: argparse.Namespace) -> int:
    parameters = _parameters(args.param)
    api = client()
    experiment = api.experiment(args.experiment, project=args.project)
    run = api.start_run(args.pipeline, str(experiment["id"]), parameters, args.name or "")
    print(run["id"])
    print(f"Started {run['name']}: {run['url']}", file=sys.stderr)
    if not args.wait:
        return EXIT_OK
    return _exit_for(wait_for(api, run["id"], args.timeout))


def cmd_wait(args: argparse.Namespace) -> int:
    return _exit_for(wait_for(client(), args.run, args.timeout))


def _pods(api: Client, run_id: str) -> list[dict[str, Any]]:
    return [s for s in api.steps(run_id) if s["type"] == "Pod"]


def _pick(steps: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The step of that name: its display name (the last attempt of a retried one), Argo's
    node name, or its id."""
    exact = [s for s in steps if s["display_name"] == name or s["name"] == name]
    attempts = [s for s in steps if s["display_name"].startswith(f"{name}(")]
    found = exact or attempts or [s for s in steps if str(s["id"]) == name]
    return found[-1] if found else None


def cmd_logs(args: argparse.Namespace) -> int:
    api = client()
    run_id = args.run
    if args.step:
        step = _pick(_pods(api, run_id), args.step)
        while step is None and args.follow and api.run(run_id)["state"] not in FINAL_STATES:
            time.sleep(1)  # the step has not started yet
            step = _pick(_pods(api, run_id), args.step)
        if step is None:
            raise UsageError(f"run {run_id} has no step {args.step!r} (see the run's steps)")
        _print_log(api, run_id, step, follow=args.follow)
        return EXIT_OK
    printed: set[int] = set()
    while True:
        for step in _pods(api, run_id):
            if step["id"] in printed or (not args.follow and not step["started_at"]):
                continue
            if args.follow and step["phase"] == "Pending":
                continue
            print(f"==> {step['display_name']} <==", flush=True)
            _print_log(api, run_id, step, follow=args.follow)
            printed.add(step["id"])
        if not args.follow:
            return EXIT_OK
        run = api.run(run_id)
        if run["state"] in FINAL_STATES and all(
            s["id"] in printed for s in _pods(api, run_id) if s["phase"] != "Pending"
        ):
            return EXIT_OK
        time.sleep(1)


def _print_log(api: Client, run_id: str, step: dict[str, Any], *, follow: bool) -> None:
    if follow:
        for line in api.follow_log(run_id, step["id"]):
            sys.stdout.write(line)
            sys.stdout.flush()
    else:
        sys.stdout.write(api.log(run_id, step["id"]))
        sys.stdout.flush()


def cmd_metrics(args: argparse.Namespace) -> int:
    metrics = client().metrics(args.run)
    if args.json:
        print(json.dumps({m["name"]: m["value"] for m in metrics}, indent=2))
        return EXIT_OK
    width = max((len(m["name"]) for m in metrics), default=0)
    for metric in metrics:
        print(f"{metric['name']:<{width}}  {metric['value']:g}")
    return EXIT_OK


def cmd_artifacts(args: argparse.Namespace) -> int:
    api = client()
    artifacts = api.artifacts(args.run)
    if not args.download:
        for a in artifacts:
            print(f"{a['id']}\t{a['step'] or '-'}\t{a['kind']}\t{a['size']}\t{a['name']}")
        return EXIT_OK
    target = Path(args.download)
    target.mkdir(parents=True, exist_ok=True)
    for artifact in artifacts:
        if not artifact["has_file"]:
            continue
        name, data = api.download(args.run, artifact["id"])
        folder = target / _safe(artifact["step"] or "run")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / _safe(name or artifact["name"])
        path.write_bytes(data)
        print(path)
    return EXIT_OK


def _safe(name: str) -> str:
    """A name that stays inside the download folder."""
    cleaned = "".join(c if c.isalnum() or c in "-_.() " else "_" for c in name).strip(". ")
    return cleaned or "artifact"


# -- the parser ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def project_option() -> dict[str, Any]:
    """Where a new pipeline or experiment goes, and where names are looked up (names are
    unique within a project); by default the token's project, or the caller's only one."""
    return {
        "default": os.environ.get("YDP_PROJECT", ""),
        "metavar": "PROJECT",
        "help": "a project's slug or id (default: $YDP_PROJECT, else the token's project)",
    }


def parser() -> argparse.ArgumentParser:
    main = _Parser(prog="ydp", description="The ydpipelines command line.")
    commands = main.add_subparsers(dest="command", required=True, parser_class=_Parser)

    login = commands.add_parser("login", help="save the server URL and a token")
    login.add_argument("url", help="the app's address, e.g. http://127.0.0.1:8000")
    login.add_argument("--token", help="the token (default: asked, or read from stdin)")
    login.set_defaults(func=cmd_login)

    upload = commands.add_parser("upload", help="upload a pipeline as a new version")
    upload.add_argument("path", help="an Argo YAML, a .pipeline file (with its folder), a Hera .py")
    upload.add_argument(
        "--pipeline", help="the pipeline's name (created when new; default: the file's name)"
    )
    upload.add_argument("--version", help="the version's name (default v1, v2, ...)")
    upload.add_argument("--description")
    upload.add_argument("--project", **project_option())
    upload.set_defaults(func=cmd_upload)

    run = commands.add_parser("run", help="start a run")
    run.add_argument("pipeline", metavar="PIPELINE[:VERSION]", help="or a version id")
    run.add_argument("--experiment", "-e", required=True, help="created when new")
    run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    run.add_argument("--name")
    run.add_argument("--project", **project_option())
    run.add_argument(
        "--wait",
        action="store_true",
        help="wait for the end and the run's outputs; exit by its state",
    )
    run.add_argument("--timeout", type=float, default=24 * 3600, help="seconds --wait waits")
    run.set_defaults(func=cmd_run)

    wait = commands.add_parser("wait", help="wait for a run's end and outputs; exit by its state")
    wait.add_argument("run")
    wait.add_argument("--timeout", type=float, default=24 * 3600, help="seconds to wait")
    wait.set_defaults(func=cmd_wait)

    logs = commands.add_parser("logs", help="print a run's logs")
    logs.add_argument("run")
    logs.add_argument("step", nargs="?", help="one step (default: every step, in order)")
    logs.add_argument("--follow", "-f", action="store_true", help="stream until the end")
    logs.set_defaults(func=cmd_logs)

    metrics = commands.add_parser("metrics", help="print a run's metrics")
    metrics.add_argument("run")
    metrics.add_argument("--json", action="store_true", help="as a JSON object name: value")
    metrics.set_defaults(func=cmd_metrics)

    artifacts = commands.add_parser("artifacts", help="list or download a run's artifacts")
    artifacts.add_argument("run")
    artifacts.add_argument("--download", metavar="DIR", help="save every file under DIR/STEP/")
    artifacts.set_defaults(func=cmd_artifacts)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"ydp: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ApiError as exc:
        print(f"ydp: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_API
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
