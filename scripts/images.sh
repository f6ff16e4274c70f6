#!/usr/bin/env bash
# Builds the local step images (images/README.md); safe to run again: an image whose recipe has
# not changed is kept. Needs podman (or docker, via YDP_CONTAINER_CLI), busybox-static and
# mmdebstrap. Usage: scripts/images.sh [busybox] [python]  (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."

CLI=${YDP_CONTAINER_CLI:-podman}
GLOBAL=()
QUIET=()  # docker import has no --quiet
[ "$CLI" = podman ] && QUIET=(-q)
# crun refuses cgroups v1 hybrid mode; runc works wherever it is installed
if [ "$CLI" = podman ] && command -v runc >/dev/null 2>&1; then GLOBAL=(--runtime runc); fi
# The Debian mirror this machine's apt already uses (deb822 or one-line sources).
MIRROR=${YDP_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
LABEL=io.ydpipelines.recipe

current() {  # the recipe hash an existing image carries, or nothing
  "$CLI" "${GLOBAL[@]}" image inspect --format "{{index .Labels \"$LABEL\"}}" "$1" 2>/dev/null || true
}

busybox() {
  local image=localhost/ydp-busybox:1 bin hash ctx
  bin=$(command -v busybox || true)
  if [ -z "$bin" ] || ! file -L "$bin" 2>/dev/null | grep -q "statically linked"; then
    bin=/bin/busybox
  fi
  [ -x "$bin" ] || { echo "images: install busybox-static first" >&2; return 1; }
  hash=$(cat images/busybox/Containerfile "$bin" | sha1sum | cut -c1-16)
  if [ "$(current $image)" = "$hash" ]; then echo "images: $image is up to date"; return 0; fi
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' RETURN
  cp "$bin" "$ctx/busybox"
  cp images/busybox/Containerfile "$ctx/"
  "$CLI" "${GLOBAL[@]}" build -q --network none --label "$LABEL=$hash" -t "$image" "$ctx" >/dev/null
  echo "images: built $image"
}

python() {
  local image=localhost/ydp-python:3.11 hash packages
  command -v mmdebstrap >/dev/null 2>&1 || { echo "images: install mmdebstrap first" >&2; return 1; }
  hash=$( (cat images/python/packages; echo "$MIRROR bookworm essential") | sha1sum | cut -c1-16)
  if [ "$(current $image)" = "$hash" ]; then echo "images: $image is up to date"; return 0; fi
  packages=$(grep -v '^#' images/python/packages | xargs | tr ' ' ',')
  echo "images: building $image with mmdebstrap (about 90 s)"
  mmdebstrap --quiet --variant=essential --include="$packages" bookworm - "$MIRROR" \
    | "$CLI" "${GLOBAL[@]}" import "${QUIET[@]}" \
      --change "LABEL $LABEL=$hash" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["python3"]' - "$image" >/dev/null
  echo "images: built $image"
}

command -v "$CLI" >/dev/null 2>&1 || { echo "images: $CLI is not installed" >&2; exit 1; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(busybox python)
for t in "${targets[@]}"; do
  case $t in
    busybox) busybox ;;
    python) python ;;
    *) echo "images: unknown image $t (busybox or python)" >&2; exit 2 ;;
  esac
done
