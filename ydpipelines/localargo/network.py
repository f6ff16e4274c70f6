"""One network namespace for every step, with one slirp4netns: the steps' way out.

A slirp4netns per step costs 40-90 ms at every start; so the engine (as root) starts a holder
(``unshare --net cat``: a process whose only job is to keep a network namespace alive) once,
attaches ``slirp4netns --disable-host-loopback`` to it, and each step joins that namespace
(mountns.py: ``setns`` on a descriptor of it). Steps then share one network, as pods share a
cluster network, and none reaches the host's loopback. Both processes die with the engine, even
a killed one: the holder at the end of its stdin (a pipe only the engine holds; a parent-death
signal would fire when the step thread that started it ends), slirp4netns when its exit fd
closes; and on ``stop``. When either dies, both are started again for the next step.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import threading
import time
from pathlib import Path

SLIRP_SECONDS = 5  # how long to wait for slirp4netns to say it is ready


class NetworkError(Exception):
    """The shared network could not be started; the message says why."""


class SharedNetwork:
    def __init__(self, slirp: str, errors: Path) -> None:
        self.slirp = slirp
        self.errors = errors  # slirp4netns' own output, for the message when it fails
        self.lock = threading.Lock()
        self.holder: subprocess.Popen | None = None
        self.slirp_proc: subprocess.Popen | None = None
        self.fd: int | None = None  # the namespace, held open by the engine
        self.exit_w: int | None = None  # closing it stops slirp4netns
        self.stopped = False

    def join_fd(self) -> int:
        """A new descriptor of the namespace for one step (the caller closes it); starts (or
        restarts) the holder and slirp4netns when they are not running."""
        with self.lock:
            if self.stopped:
                raise NetworkError("the engine is stopping")
            if not self._alive():
                self._stop()
                self._start()
            assert self.fd is not None
            return os.dup(self.fd)

    def pids(self) -> list[int]:
        with self.lock:
            return [p.pid for p in (self.holder, self.slirp_proc) if p and p.poll() is None]

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            self._stop()

    def _alive(self) -> bool:
        return all(p is not None and p.poll() is None for p in (self.holder, self.slirp_proc))

    def _start(self) -> None:
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--", "cat"],
            stdin=subprocess.PIPE,  # its write end stays with the engine, never with a step
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + SLIRP_SECONDS
        path = f"/proc/{self.holder.pid}/ns/net"
        try:
            while os.readlink(path) == own:  # until unshare has made the namespace
                if time.monotonic() > deadline or self.holder.poll() is not None:
                    raise NetworkError("the holder's network namespace did not appear")
                time.sleep(0.0005)
            self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            self._attach_slirp(deadline)
        except (OSError, NetworkError) as exc:
            self._stop()
            raise NetworkError(f"slirp4netns: {exc}") from None

    def _attach_slirp(self, deadline: float) -> None:
        assert self.holder is not None
        ready_r, ready_w = os.pipe()
        exit_r, self.exit_w = os.pipe()
        os.set_inheritable(self.exit_w, False)
        try:
            self.errors.parent.mkdir(parents=True, exist_ok=True)
            with open(self.errors, "wb") as err:
                self.slirp_proc = subprocess.Popen(
                    [
                        self.slirp,
                        "--configure",
                        "--mtu=65520",
                        "--disable-host-loopback",
                        f"--ready-fd={ready_w}",
                        f"--exit-fd={exit_r}",
                        str(self.holder.pid),
                        "tap0",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=err,
                    stderr=err,
                    pass_fds=(ready_w, exit_r),
                    start_new_session=True,
                )
            os.close(ready_w)
            ready_w = -1
            wait = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([ready_r], [], [], wait)
            if not (ready and os.read(ready_r, 1) == b"1"):
                said = self.errors.read_text(errors="replace").strip().splitlines()
                raise NetworkError(said[-1] if said else "it did not answer")
        finally:
            for fd in (ready_r, ready_w, exit_r):
                if fd >= 0:
                    os.close(fd)

    def _stop(self) -> None:
        if self.exit_w is not None:
            os.close(self.exit_w)  # slirp4netns exits
            self.exit_w = None
        for proc in (self.slirp_proc, self.holder):
            if proc is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
            if proc.stdin is not None:
                proc.stdin.close()
        self.slirp_proc = self.holder = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
