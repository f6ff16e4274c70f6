#!/usr/bin/env bash
# Pins every Python dependency, with hashes, from pyproject.toml: requirements.lock (the app and
# its Sentry extra: what the image installs) and requirements-dev.lock (plus the dev extra, held
# to the same versions: what scripts/setup.sh installs). Run after editing the dependencies;
# `--upgrade` moves every pin to the newest release allowed.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
[ -x "$UV" ] || UV=uv
# --native-tls: the system CA store, which knows a TLS-inspecting proxy where there is one.
common=(--native-tls --generate-hashes --python-version 3.11 --python-platform linux --quiet "$@")
"$UV" pip compile pyproject.toml --extra sentry "${common[@]}" -o requirements.lock
"$UV" pip compile pyproject.toml --extra sentry --extra dev -c requirements.lock "${common[@]}" \
  -o requirements-dev.lock
echo "lock: wrote requirements.lock and requirements-dev.lock"
