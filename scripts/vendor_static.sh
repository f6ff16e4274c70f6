#!/usr/bin/env bash
# Copies the pinned front-end libraries from npm into static/vendor/. The copies are committed,
# so running the app never needs npm; run this only to change a pinned version in package.json.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund --ignore-scripts
mkdir -p static/vendor
cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
version=$(node -p "require('./node_modules/htmx.org/package.json').version")
case "$version" in
  2.*) ;;
  *) echo "vendor_static: htmx.org $version is not 2.x (the templates use htmx 2 syntax)" >&2; exit 1 ;;
esac
echo "htmx.org $version" > static/vendor/VERSIONS
echo "vendor_static: static/vendor updated (htmx.org $version)"
