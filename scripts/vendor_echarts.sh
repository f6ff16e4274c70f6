#!/usr/bin/env bash
# Copies Apache ECharts 5 (one file, dist/echarts.min.js) from the npm registry into
# static/vendor/. The copy is committed, so running the app never needs npm; run this only to
# move to another 5.x release. Uses `npm pack` in a temporary folder: package.json is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."

spec="${1:-echarts@5}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$spec" > name.txt)
tarball="$tmp/$(tail -n1 "$tmp/name.txt")"
tar -xzf "$tarball" -C "$tmp" package/dist/echarts.min.js package/package.json
version=$(node -p "require('$tmp/package/package.json').version")
case "$version" in
  5.*) ;;
  *) echo "vendor_echarts: echarts $version is not 5.x" >&2; exit 1 ;;
esac
mkdir -p static/vendor
cp "$tmp/package/dist/echarts.min.js" static/vendor/echarts.min.js
echo "vendor_echarts: static/vendor/echarts.min.js is echarts $version"
