#!/usr/bin/env bash
# Vendor MathJax 3 (the combined TeX+MathML -> CommonHTML component and its woff-v2
# fonts) from the npm registry into book/_static/mathjax/, so the built book renders
# maths with no network access. Rerun to refresh; the version is pinned below.
set -euo pipefail

MATHJAX_VERSION="${MATHJAX_VERSION:-3.2.2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/book/_static/mathjax"

command -v npm >/dev/null || { echo "fetch_mathjax.sh: npm not found; install Node.js/npm (Debian: apt-get install -y npm)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "mathjax@${MATHJAX_VERSION}" >/dev/null && tar xzf mathjax-*.tgz)

rm -rf "$dest"
mkdir -p "$dest/output/chtml/fonts"
cp "$work/package/es5/tex-mml-chtml.js" "$dest/"
cp -r "$work/package/es5/output/chtml/fonts/woff-v2" "$dest/output/chtml/fonts/"
cp "$work/package/LICENSE" "$dest/LICENSE"
echo "MathJax ${MATHJAX_VERSION} from npm: es5/tex-mml-chtml.js and its woff-v2 fonts." > "$dest/README.txt"
echo "MathJax ${MATHJAX_VERSION} -> ${dest#$root/} ($(du -sh "$dest" | cut -f1))"
