#!/usr/bin/env bash
# Builds the local step images (images/README.md); safe to run again: an image whose recipe has
# not changed is kept. Needs podman (or docker, via YDP_CONTAINER_CLI), busybox-static and
# mmdebstrap. Usage: scripts/images.sh [busybox] [python] [runtime]  (default: all three)
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
# One run at a time on this machine (Podman's image store is the machine's): parallel test
# workers, or a second checkout, wait here and then find the images up to date.
exec 9>"${TMPDIR:-/tmp}/ydp-images.lock"
flock 9

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

# An image is imported under a temporary name and takes its own only once the whole build
# succeeded: an interrupted import must not leave a broken image that looks up to date.
finish() {
  "$CLI" "${GLOBAL[@]}" tag "$1-building" "$1"
  "$CLI" "${GLOBAL[@]}" rmi "$1-building" >/dev/null
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
      --change 'CMD ["python3"]' - "$image-building" >/dev/null
  finish "$image"
  echo "images: built $image"
}

# The default image of pipeline nodes (apps/pipelines/constants.py DEFAULT_RUNTIME_IMAGE): Debian's
# Python, notebook tools, pandas, scikit-learn and R, plus papermill from pip (images/runtime/).
runtime() {
  local image=localhost/ydpipelines-runtime:1 hash packages wheels pip started
  command -v mmdebstrap >/dev/null 2>&1 || { echo "images: install mmdebstrap first" >&2; return 1; }
  hash=$( (cat images/runtime/packages images/runtime/pip.txt; declare -f runtime
    echo "$MIRROR bookworm essential") | sha1sum | cut -c1-16)
  if [ "$(current $image)" = "$hash" ]; then echo "images: $image is up to date"; return 0; fi
  pip=${YDP_PIP:-.venv/bin/pip}
  [ -x "$pip" ] || pip=pip3
  packages=$(grep -v '^#' images/runtime/packages | xargs | tr ' ' ',')
  wheels=$(mktemp -d)
  trap 'rm -rf "$wheels"' RETURN
  # The host's pip fetches the pure-Python wheels (through its own index, proxy, certificates);
  # inside the image pip installs them with no index, their dependencies being Debian's.
  "$pip" download -q --no-deps --only-binary :all: -d "$wheels" -r images/runtime/pip.txt
  echo "images: building $image with mmdebstrap (about 3 minutes)"
  started=$SECONDS
  mmdebstrap --quiet --variant=essential --include="$packages" \
    --customize-hook="mkdir -p \"\$1/tmp/wheels\" && cp $wheels/*.whl \"\$1/tmp/wheels/\"" \
    --customize-hook="chroot \"\$1\" python3 -m pip install -q --no-index --find-links /tmp/wheels \
      --break-system-packages --no-warn-script-location -r /dev/stdin < images/runtime/pip.txt" \
    --customize-hook='rm -rf "$1/tmp/wheels" "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
    --customize-hook='chroot "$1" python3 -c "import papermill, nbconvert, ipykernel, pandas, sklearn"' \
    --customize-hook='chroot "$1" Rscript -e "invisible(1)"' \
    bookworm - "$MIRROR" \
    | "$CLI" "${GLOBAL[@]}" import "${QUIET[@]}" \
      --change "LABEL $LABEL=$hash" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["python3"]' - "$image-building" >/dev/null
  finish "$image"
  echo "images: built $image in $((SECONDS - started)) s"
}

command -v "$CLI" >/dev/null 2>&1 || { echo "images: $CLI is not installed" >&2; exit 1; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(busybox python runtime)
for t in "${targets[@]}"; do
  case $t in
    busybox) busybox ;;
    python) python ;;
    runtime) runtime ;;
    *) echo "images: unknown image $t (busybox, python or runtime)" >&2; exit 2 ;;
  esac
done
