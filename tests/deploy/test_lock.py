"""The lock files pin, with hashes, every dependency pyproject.toml declares, at versions it
allows, and the dev lock holds the app's packages at the app lock's versions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    found = {canonicalize_name(n): v for n, v in PIN.findall(text)}
    # Every pin carries hashes: pip then checks each file it downloads.
    assert text.count("==") == len(found) and text.count("--hash=sha256:") >= len(found)
    return found


def declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    items = list(project["dependencies"])
    for extra in extras:
        items += project["optional-dependencies"][extra]
    return [Requirement(item) for item in items]


def test_locks_satisfy_pyproject():
    for lock, extras in (("requirements.lock", ["sentry"]),
                         ("requirements-dev.lock", ["sentry", "dev"])):  # fmt: skip
        pinned = pins(lock)
        for req in declared(*extras):
            name = canonicalize_name(req.name)
            assert name in pinned, f"{lock} lacks {req.name}: run scripts/lock.sh"
            assert req.specifier.contains(pinned[name], prereleases=True), (
                f"{lock} pins {req.name}=={pinned[name]}, pyproject wants {req.specifier}: "
                "run scripts/lock.sh"
            )


def test_dev_lock_agrees_with_the_app_lock():
    app, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {n: dev.get(n) for n in app} == app
