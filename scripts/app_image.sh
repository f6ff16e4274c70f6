#!/usr/bin/env bash
# Builds the app's image (Containerfile) on this machine without pulling from a registry: the
# runtime base is scripts/images.sh's localhost/ydp-python:3.11; the build base (that plus
# venv and pip, deploy/build-packages) is made the same way, with mmdebstrap and an import.
# Usage: scripts/app_image.sh [TAG]   (default localhost/ydpipelines:latest)
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${1:-localhost/ydpipelines:latest}
CLI=${YDP_CONTAINER_CLI:-podman}
GLOBAL=()
[ "$CLI" = podman ] && command -v runc >/dev/null 2>&1 && GLOBAL=(--runtime runc)
MIRROR=${YDP_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
LABEL=io.ydpipelines.recipe
BUILD_BASE=localhost/ydp-python-build:3.11

# Made only when absent: its recipe is images/'s, and other branches may hold a newer one.
"$CLI" "${GLOBAL[@]}" image exists localhost/ydp-python:3.11 || bash scripts/images.sh python

hash=$( (cat deploy/build-packages; echo "$MIRROR bookworm essential") | sha1sum | cut -c1-16)
have=$("$CLI" "${GLOBAL[@]}" image inspect --format "{{index .Labels \"$LABEL\"}}" "$BUILD_BASE" 2>/dev/null || true)
if [ "$have" != "$hash" ]; then
  command -v mmdebstrap >/dev/null 2>&1 || { echo "app_image: install mmdebstrap first" >&2; exit 1; }
  packages=$(grep -v '^#' deploy/build-packages | xargs | tr ' ' ',')
  echo "app_image: building $BUILD_BASE with mmdebstrap (about 90 s)"
  # Imported under a name of its own, tagged only once complete: an interrupted mmdebstrap
  # would otherwise leave a broken image under the real name, with the current recipe label.
  partial="$BUILD_BASE-partial-$$"
  mmdebstrap --quiet --variant=essential --include="$packages" bookworm - "$MIRROR" \
    | "$CLI" "${GLOBAL[@]}" import -q --change "LABEL $LABEL=$hash" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      - "$partial" >/dev/null
  "$CLI" "${GLOBAL[@]}" tag "$partial" "$BUILD_BASE"
  "$CLI" "${GLOBAL[@]}" rmi "$partial" >/dev/null
fi

# A proxy that inspects TLS on the way to PyPI needs its CA: pip's own setting, as a secret.
SECRET=()
cert=${PIP_CERT:-${SSL_CERT_FILE:-}}
[ -n "$cert" ] && [ -s "$cert" ] && SECRET=(--secret "id=pipcert,src=$cert")
# --pull=never: both bases are local (made above); layers are cached (podman's default).
# --network=host: the build's steps (pip from PyPI, collectstatic) use this machine's network
# as they would outside a container. Podman's default bridge would be made and removed for each
# step, changing the host's addresses: a browser open then fails its requests (Chromium's
# ERR_NETWORK_CHANGED; the browser tests run beside this build in `make test-all`).
"$CLI" "${GLOBAL[@]}" build --pull=never --network=host "${SECRET[@]}" -f Containerfile -t "$TAG" .
echo "app_image: built $TAG"
