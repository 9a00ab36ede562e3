#!/usr/bin/env bash
# Fetch onnxruntime-web (its WebAssembly CPU build: ort.wasm.min.js, the wasm module and
# its loader) from the npm registry into book/_static/onnxruntime/, for the prototype
# explorer page (book/explorer.md), which runs the exported decoder in the reader's
# browser with no network. The package is pinned to a version and checked against its
# sha512 integrity hash; the files (about 14 MB) are not committed. scripts/build_book.sh
# runs this on every build; it returns at once when the pinned version is already there.
set -euo pipefail

ORT_VERSION="1.30.0"
ORT_INTEGRITY="sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
FILES=(ort.wasm.min.js ort.wasm.min.js.map ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/book/_static/onnxruntime"
stamp="onnxruntime-web ${ORT_VERSION} ${ORT_INTEGRITY}"

fetched() {
    [ -f "$dest/README.txt" ] && [ "$(head -n 1 "$dest/README.txt")" = "$stamp" ] || return 1
    for f in "${FILES[@]}"; do [ -s "$dest/$f" ] || return 1; done
}
fetched && exit 0
command -v npm >/dev/null || { echo "fetch_onnxruntime.sh: npm not found; install Node.js/npm (Debian: apt-get install -y npm)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "onnxruntime-web@${ORT_VERSION}" >/dev/null)
tarball="$work/onnxruntime-web-${ORT_VERSION}.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$got" != "$ORT_INTEGRITY" ]; then
    echo "fetch_onnxruntime.sh: onnxruntime-web ${ORT_VERSION} from npm has integrity $got, not the pinned $ORT_INTEGRITY; refusing it" >&2
    exit 1
fi
tar xzf "$tarball" -C "$work"

rm -rf "$dest"
mkdir -p "$dest"
for f in "${FILES[@]}"; do cp "$work/package/dist/$f" "$dest/"; done
{
    echo "$stamp"
    echo "From the npm registry by scripts/fetch_onnxruntime.sh: the WebAssembly CPU build"
    echo "(dist/${FILES[*]}). MIT License, Copyright (c) Microsoft Corporation"
    echo "(package.json: \"license\": \"MIT\"; https://github.com/microsoft/onnxruntime)."
} > "$dest/README.txt"
echo "onnxruntime-web ${ORT_VERSION} -> ${dest#$root/} ($(du -sh "$dest" | cut -f1))"
