#!/usr/bin/env bash
# Runs `npm test` as root from a checkout owned by a normal user (the GitHub runner's), for the tests that
# act as other users. With `sudo -E`, root's npm would write its cache and logs into that user's ~/.npm, and
# the build and vitest would leave root-owned files in the checkout: the next step (as the user) then fails
# with EACCES. So root gets its own HOME and npm cache in a scratch directory, and afterwards everything in
# the checkout is given back to the user, whether the tests passed or not.
set -euo pipefail
cd "$(dirname "$0")/.."
owner="$(id -u):$(id -g)"
scratch=$(mktemp -d)
mkdir "$scratch/home"
cleanup() {
  sudo chown -R "$owner" .
  sudo rm -rf "$scratch"
}
trap cleanup EXIT
sudo env "PATH=$PATH" "HOME=$scratch/home" "npm_config_cache=$scratch/npm-cache" \
  "PEERAUTH_REQUIRE_TOOLS=${PEERAUTH_REQUIRE_TOOLS:-}" "CI=${CI:-}" "TURBO_TELEMETRY_DISABLED=1" \
  npm test "$@"
