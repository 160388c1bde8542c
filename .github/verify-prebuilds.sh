#!/usr/bin/env bash
# Fails unless packages/core-native/prebuilds/ holds exactly the given targets, each with the binary whose
# checksum its matrix job recorded after testing it (SHA256SUMS, written by the release workflow).
set -euo pipefail
cd "$(dirname "$0")/../packages/core-native/prebuilds"
expected=$(printf '%s\n' "$@" | sort)
present=$(find . -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
if [ "$present" != "$expected" ]; then
  printf 'prebuild targets differ:\nexpected:\n%s\npresent:\n%s\n' "$expected" "$present" >&2
  exit 1
fi
for target in "$@"; do
  (cd "$target" && test -s SHA256SUMS && shasum -a 256 -c SHA256SUMS)
  # Nothing may ship beside the tested binaries.
  extra=$(find "$target" -type f ! -name SHA256SUMS | sort | while read -r f; do
    grep -qF "  ${f#"$target"/}" "$target/SHA256SUMS" || echo "$f"; done)
  if [ -n "$extra" ]; then echo "untested files in $target: $extra" >&2; exit 1; fi
done
