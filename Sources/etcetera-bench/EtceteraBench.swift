import ArgumentParser
import Benchmarking

/// etcd's `benchmark` tool for Etcetera (and for etcd itself): same subcommands, flags and report.
@main
struct EtceteraBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "etcetera-bench",
        abstract: "A low-level benchmark tool for etcd v3 servers (Etcetera or etcd).",
        discussion: """
            Flags follow etcd's tools/benchmark. Global flags may come before or after the subcommand:
              etcetera-bench --endpoints 127.0.0.1:2379 --conns 8 --clients 64 put --total 20000 --val-size 256
            """,
        subcommands: [PutCommand.self, RangeCommand.self, TxnPutCommand.self, WatchCommand.self, WatchLatencyCommand.self, LeaseKeepAliveCommand.self, DefragCommand.self]
    )

    @OptionGroup var global: GlobalOptions
}
