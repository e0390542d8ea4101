#!/usr/bin/env bash
# Installs what the tests need (libzmq, LevelDB, real etcd to compare against, Go with etcd's client
# sources), builds everything and runs the whole suite: unit tests of each library and integration
# tests that start the built executables on loopback and drive them with etcdctl, the Go clientv3 and
# a Swift gRPC client.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh --test
# The C auth backend and its unit tests; the Swift backend contract suite runs the executable.
make -C Plugins/auth-c
make -C Plugins/auth-c check
swift build --build-tests
# Unit tests first, then the integration tests in a process of their own: the integration tests spawn
# servers, Go builds and clients by the dozen, and the bus tests' "fails at once" bounds (under a
# second) were missed about every other run when both shared one test process.
swift test --skip-build --skip IntegrationTests
# A 20-second smoke of each libFuzzer target, in a sanitizer build of its own (debug: it builds in a
# fraction of the release build's time; docs/reliability.md, "Fuzzing"); a crash fails the run.
ETCETERA_FUZZ_CONFIGURATION=debug scripts/fuzz.sh all 20
swift test --skip-build --filter IntegrationTests
# Three minutes of the chaos soak: load with auth on while services are killed and the disk stalls
# (scripts/soak.sh, docs/reliability.md).
scripts/soak.sh 3
