#!/usr/bin/env bash
# Installs what Etcetera needs, builds it (release) and starts every service on this box, serving
# etcd's API on http://127.0.0.1:2379 unless etcd-style flags say otherwise (they are passed through:
# ./scripts/run.sh --data-dir /var/lib/etcetera --listen-client-urls http://0.0.0.0:2379).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-dependencies.sh
swift build -c release --product etcetera-kv
swift build -c release --product etcetera-auth
swift build -c release --product etcetera-lease
swift build -c release --product etcetera-maintenance
swift build -c release --product etcetera-watch
swift build -c release --product etcetera-gateway
swift build -c release --product etcetera
defaults=(--data-dir default.etcetera --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379)
exec .build/release/etcetera "${defaults[@]}" "$@"
