#!/usr/bin/env bash
# Installs everything the app and its tests need on a fresh machine; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v Rscript >/dev/null 2>&1 || need_apt+=(r-base-core)
# steps' outbound network without the host's loopback (ydpipelines/localargo/sandbox.py)
command -v slirp4netns >/dev/null 2>&1 || need_apt+=(slirp4netns)
# the container executor (ydpipelines/localargo/containers.py) and its local images (images/):
# runc because crun refuses cgroups v1 hybrid mode
command -v podman >/dev/null 2>&1 || need_apt+=(podman)
command -v runc >/dev/null 2>&1 || need_apt+=(runc)
command -v mmdebstrap >/dev/null 2>&1 || need_apt+=(mmdebstrap)
dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q "ok installed" \
  || need_apt+=(busybox-static)
# the browser tests' Chromium: the headless shell, lighter than `chromium --headless` (README)
if [ "${YDP_WITH_BROWSER:-0}" = "1" ] && ! command -v chromium-headless-shell >/dev/null 2>&1; then
  need_apt+=(chromium-headless-shell)
fi
# apt-get, waiting (up to 10 minutes, and saying so) while another apt or dpkg holds its lock.
apt_wait() {
  local err said=0
  err=$(mktemp)
  for _ in $(seq 1 120); do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=5 "$@" >/dev/null 2>"$err"; then
      rm -f "$err"
      return 0
    fi
    if ! grep -q "Could not get lock\|is held by process\|Unable to lock" "$err"; then
      cat "$err" >&2
      rm -f "$err"
      return 1
    fi
    if [ "$said" = 0 ]; then
      echo "setup: apt is busy (another install holds its lock); waiting up to 10 minutes" >&2
      said=1
    fi
    sleep 5
  done
  echo "setup: apt stayed busy for 10 minutes; run 'make' again when it is free" >&2
  rm -f "$err"
  return 1
}

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "setup: installing ${need_apt[*]} from Debian"
    apt_wait update -qq
    apt_wait install -y -qq "${need_apt[@]}"
  else
    echo "setup: please install ${need_apt[*]} (apt-get install ${need_apt[*]})" >&2
  fi
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# The pinned, hash-checked versions (scripts/lock.sh writes the lock), then the app itself.
stamp=.venv/.installed-$(cat pyproject.toml requirements-dev.lock | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -U pip
  .venv/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements-dev.lock
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  .venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# The step images (images/README.md): the container executor that `make run` picks when podman
# works runs the demo in localhost/ydpipelines-runtime:1. Kept when their recipe is unchanged;
# the first build takes about 3 minutes.
if command -v podman >/dev/null 2>&1 && [ "${YDP_SKIP_IMAGES:-0}" != "1" ]; then
  bash scripts/images.sh || {
    echo "setup: building the step images failed (see above); run 'bash scripts/images.sh' again," \
      "or run steps on the host: LOCALARGO_EXECUTOR=host make run" >&2
    exit 1
  }
fi
