#!/usr/bin/env bash
# Fails unless packages/core-native/prebuilds/ holds exactly the given targets, each with the binaries whose
# checksums their matrix jobs recorded after testing them (SHA256SUMS.<libc or darwin>, one per job).
set -euo pipefail
cd "$(dirname "$0")/../packages/core-native/prebuilds"
expected=$(printf '%s\n' "$@" | sort)
present=$(find . -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
if [ "$present" != "$expected" ]; then
  printf 'prebuild targets differ:\nexpected:\n%s\npresent:\n%s\n' "$expected" "$present" >&2
  exit 1
fi
for target in "$@"; do
  sums=$(find "$target" -maxdepth 1 -name 'SHA256SUMS*' -size +0 | sort)
  if [ -z "$sums" ]; then echo "no SHA256SUMS in $target" >&2; exit 1; fi
  for s in $sums; do (cd "$target" && shasum -a 256 -c "${s#"$target"/}"); done
  # Nothing may ship beside the tested binaries.
  extra=$(find "$target" -type f ! -name 'SHA256SUMS*' | sort | while read -r f; do
    cat $sums | grep -qF "  ${f#"$target"/}" || echo "$f"; done)
  if [ -n "$extra" ]; then echo "untested files in $target: $extra" >&2; exit 1; fi
done
