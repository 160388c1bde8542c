#!/bin/sh
# Builds and tests core-native's Linux prebuild inside the release's container (see release.yml):
# AlmaLinux 8 for glibc (so the binary needs nothing newer than glibc 2.28, checked below), Alpine for musl.
# Usage: sh .github/prebuild-in-container.sh glibc|musl   (run from the repository root)
set -eu
libc=$1
if [ "$libc" = glibc ]; then
  dnf -y -q module enable nodejs:20
  dnf -y -q install nodejs npm gcc-c++ make python3 binutils findutils
else
  apk add --no-cache g++ make python3 binutils
fi
npm ci --no-audit --no-fund
npm run build:prebuild -w @peerauth/core-native
npm run build:ts -w @peerauth/core-native
rm -rf packages/core-native/build
if [ "$libc" = glibc ]; then node scripts/check-glibc.mjs packages/core-native/prebuilds/*/*.glibc.node; fi
ls packages/core-native/prebuilds/*/*."$libc".node
# The tests run against the prebuild, as an unprivileged user (the multi-user tests ran as root in CI).
node -e "import('@peerauth/core-native').then(m => { const o = m.addonOrigin(); if (o.source !== 'prebuild') throw new Error(o.path); console.log(o) })"
chmod -R a+rwX .
if [ "$libc" = glibc ]; then
  useradd -m builder 2>/dev/null || true
  runuser -u builder -- env HOME=/home/builder npm test -w @peerauth/core-native
else
  su node -s /bin/sh -c 'npm test -w @peerauth/core-native'
fi
