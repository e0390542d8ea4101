#!/usr/bin/env bash
# Regenerates the committed Swift code for every .proto under Protos/ into Sources/EtceteraAPI/Generated,
# and the descriptor set of etcd's API that the request sweep test walks.
# The protoc plugins are built once from the resolved package checkouts (release mode) into
# .build-protoc-plugins/ and reused; protoc itself comes from Debian's protobuf-compiler.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v protoc >/dev/null || { apt-get update -qq && apt-get install -y -qq protobuf-compiler; }

plugins=.build-protoc-plugins
if [ ! -x "$plugins/protoc-gen-swift" ] || [ ! -x "$plugins/protoc-gen-grpc-swift-2" ]; then
    swift package resolve
    mkdir -p "$plugins"
    swift build -c release --package-path .build/checkouts/swift-protobuf \
        --scratch-path "$plugins/swift-protobuf" --product protoc-gen-swift
    swift build -c release --package-path .build/checkouts/grpc-swift-protobuf \
        --scratch-path "$plugins/grpc-swift-protobuf" --product protoc-gen-grpc-swift-2
    cp "$plugins/swift-protobuf/release/protoc-gen-swift" "$plugins/"
    cp "$plugins/grpc-swift-protobuf/release/protoc-gen-grpc-swift-2" "$plugins/"
fi

out=Sources/EtceteraAPI/Generated
rm -rf "$out"
mkdir -p "$out"
protos=$(cd Protos && find . -name '*.proto' | sed 's|^\./||' | sort)
(cd Protos && protoc -I . \
    --plugin=protoc-gen-swift="../$plugins/protoc-gen-swift" \
    --swift_out="../$out" --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
    $protos)
(cd Protos && protoc -I . \
    --plugin=protoc-gen-grpc-swift-2="../$plugins/protoc-gen-grpc-swift-2" \
    --grpc-swift-2_out="../$out" \
    --grpc-swift-2_opt=Visibility=Public,FileNaming=PathToUnderscores,Server=true,Client=true \
    etcd/etcdserverpb/rpc.proto)

# The descriptors of etcd's API, walked by the request sweep (Tests/IntegrationTests/RequestSweepTests.swift)
# so that every field of every request is covered without a hand-written case.
(cd Protos && protoc -I . --include_imports \
    --descriptor_set_out=../Tests/IntegrationTests/Fixtures/etcd-api.protoset etcd/etcdserverpb/rpc.proto)

echo "generated: $(ls "$out" | wc -l) files in $out"
