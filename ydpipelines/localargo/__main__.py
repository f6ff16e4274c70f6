"""``python -m ydpipelines.localargo [--host] [--port] [--data] [--token] [--max-parallel]
[--step-user] [--step-network] [--executor] [--capacity-cpu] [--capacity-memory]
[--capacity-gpu] [--cdi-spec-dir DIR]``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from .containers import EXECUTORS, ContainerExecutor
from .engine import Engine
from .gpus import DEFAULT_DIRS
from .sandbox import NETWORKS, SandboxError
from .scheduler import Capacity
from .server import make_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ydpipelines.localargo", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("LOCALARGO_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCALARGO_PORT", 2746)))
    parser.add_argument("--data", default=os.environ.get("LOCALARGO_DATA", "var/localargo"))
    parser.add_argument("--token", default=os.environ.get("LOCALARGO_TOKEN") or None)
    parser.add_argument(
        "--max-parallel",
        type=int,
        default=None,
        help="steps run at once (default: the number of cores)",
    )
    parser.add_argument(
        "--cron-seconds",
        action="store_true",
        help="also accept 6-field schedules (seconds last); for tests",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=int(os.environ.get("LOCALARGO_MAX_CONNECTIONS", 128)),
        help="connections served at once; more are answered 503",
    )
    parser.add_argument(
        "--max-streams",
        type=int,
        default=int(os.environ.get("LOCALARGO_MAX_STREAMS", 32)),
        help="log and watch streams open at once; more are answered 429",
    )
    parser.add_argument(
        "--step-user",
        default=None,
        help="uid[:gid] or user name steps run as when the engine is root "
        "(default: $YDP_STEP_UID or 65534 'nobody')",
    )
    parser.add_argument(
        "--step-network",
        choices=NETWORKS,
        default=None,
        help="outbound: via slirp4netns, without the host's loopback (default; loopback only "
        "when slirp4netns is missing); none: loopback only; host: the host's network "
        "(default: $YDP_STEP_NETWORK or outbound)",
    )
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=os.environ.get("LOCALARGO_EXECUTOR", "host"),
        help="how steps run: container (each in its image, with Podman or Docker: "
        "$YDP_CONTAINER_CLI), host (a sandboxed process on this machine) or auto (container "
        "when a runtime works); default: $LOCALARGO_EXECUTOR or host",
    )
    for name, default in (
        ("cpu", "os.cpu_count()"),
        ("memory", "MemTotal of /proc/meminfo"),
        ("gpu", "the nvidia.com/gpu devices of the CDI specs, else those the NVIDIA driver lists"),
    ):
        parser.add_argument(
            f"--capacity-{name}",
            default=os.environ.get(f"LOCALARGO_CAPACITY_{name.upper()}") or None,
            help=f"{name} steps are admitted against, as a Kubernetes quantity "
            f"(default: $LOCALARGO_CAPACITY_{name.upper()} or {default})",
        )
    parser.add_argument(
        "--cdi-spec-dir",
        action="append",
        dest="cdi_dirs",
        metavar="DIR",
        help="a folder of CDI spec files describing this machine's GPUs, given to steps that "
        "request nvidia.com/gpu or amd.com/gpu (repeatable; default: $LOCALARGO_CDI_SPEC_DIRS, "
        f"{os.pathsep}-separated, or {' and '.join(DEFAULT_DIRS)})",
    )
    args = parser.parse_args(argv)
    from_env = os.environ.get("LOCALARGO_CDI_SPEC_DIRS")
    cdi_dirs = tuple(args.cdi_dirs or (from_env.split(os.pathsep) if from_env else DEFAULT_DIRS))
    try:
        capacity = Capacity.of_machine(
            args.capacity_cpu, args.capacity_memory, args.capacity_gpu, Path(args.data), cdi_dirs
        )
    except (ValueError, OSError) as exc:
        print(f"localargo: --capacity: {exc}", file=sys.stderr)
        return 2
    try:
        engine = Engine(
            args.data,
            args.max_parallel,
            cron_seconds=args.cron_seconds,
            step_user=args.step_user,
            step_network=args.step_network,
            executor=args.executor,
            capacity=capacity,
            cdi_dirs=cdi_dirs,
        )
    except SandboxError as exc:
        print(f"localargo: {exc}", file=sys.stderr)
        return 2
    try:
        server = make_server(
            engine, args.host, args.port, args.token, args.max_connections, args.max_streams
        )
    except OSError as exc:
        print(f"localargo: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    in_images = isinstance(engine.executor, ContainerExecutor)
    if not in_images and engine.executor.prefix is None:
        print(
            "localargo: warning: `unshare --mount` is unavailable; steps will error",
            file=sys.stderr,
        )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    engine.start()
    print(
        f"localargo listening on http://{args.host}:{server.server_port} data={engine.data} "
        f"executor={engine.executor.describe() if in_images else 'host'} "
        f"capacity: {engine.capacity.describe()}",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
