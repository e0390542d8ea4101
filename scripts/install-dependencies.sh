#!/usr/bin/env bash
# Installs the Debian packages Etcetera needs, only those missing: libzmq, LevelDB and libxcrypt (bcrypt) to
# build and run;
# with --test also real etcd (server and etcdctl), the reference the test suite compares against, Go
# with etcd's client sources, for the tests that drive Etcetera with the Go clientv3, what the C auth
# backend in Plugins/auth-c builds with (make, gcc, protobuf-c and its compiler, jansson),
# docker-compose, which checks compose/docker-compose.yml (no Docker engine is needed for that),
# python's prometheus_client, which the metrics tests parse /metrics with, and openssl, which makes the
# certificates of the TLS tests.
set -euo pipefail
packages=(libzmq3-dev libleveldb-dev libcrypt-dev)
if [ "${1:-}" = "--test" ]; then
    packages+=(etcd-server etcd-client golang-go golang-etcd-server-dev
        make gcc protobuf-c-compiler libprotobuf-c-dev libjansson-dev docker-compose python3-prometheus-client openssl)
fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
