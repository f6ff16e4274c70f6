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
# CodeMirror 5 ships prebuilt files (no bundler): the editor page's code editor for .py and .R.
mkdir -p static/vendor/codemirror
cp node_modules/codemirror/lib/codemirror.js node_modules/codemirror/lib/codemirror.css \
  static/vendor/codemirror/
cp node_modules/codemirror/mode/python/python.js static/vendor/codemirror/mode-python.js
cp node_modules/codemirror/mode/r/r.js static/vendor/codemirror/mode-r.js
cm_version=$(node -p "require('./node_modules/codemirror/package.json').version")
case "$cm_version" in
  5.*) ;;
  *) echo "vendor_static: codemirror $cm_version is not 5.x (static/js/editor.js uses its API)" >&2; exit 1 ;;
esac
printf 'htmx.org %s\ncodemirror %s\n' "$version" "$cm_version" > static/vendor/VERSIONS
echo "vendor_static: static/vendor updated (htmx.org $version, codemirror $cm_version)"
