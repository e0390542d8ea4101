import ArgumentParser
import Benchmarking
import Foundation

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Benchmark watch: watchers over streams and keys, then puts; checks exact delivery",
        discussion: """
            Watcher w watches key w mod --key-space-size; put i writes key i mod --key-space-size. Exits \
            non-zero unless every watcher got exactly its events in order.
            """)

    @ParentCommand var root: EtceteraBench

    @Option(help: "Total watch streams.") var streams = 10
    @Option(help: "Total watchers per stream.") var watchPerStream = 100
    @Flag(help: "Get previous key.") var prevkey = false
    @Option(help: "Number of keys to put per second (0 is no limit).") var putRate = 0
    @Option(help: "Number of put requests.") var putTotal = 1000
    @Option(help: "Key size of watch request.") var keySize = 32
    @Option(help: "Value size of put request (carries the put number).") var valSize = 32
    @Option(help: "Maximum possible keys.") var keySpaceSize = 1
    @Option(help: "Seconds to keep the watchers idle before the first put (for memory sampling).") var holdSeconds = 0.0
    @Option(help: "Add one stream on its own connection that watches every key and stops reading this many seconds from the first put.")
    var stallSeconds = 0.0
    @Option(help: "Seconds to wait for missing events once none arrive.") var settleSeconds = 30.0

    func run() async throws {
        var configuration = WatchBenchmark.Configuration()
        configuration.streams = streams
        configuration.watchersPerStream = watchPerStream
        configuration.prevKV = prevkey
        configuration.putRate = putRate
        configuration.putTotal = putTotal
        configuration.keySize = keySize
        configuration.valueSize = valSize
        configuration.keySpaceSize = keySpaceSize
        configuration.holdSeconds = holdSeconds
        configuration.stallSeconds = stallSeconds
        configuration.settleSeconds = settleSeconds
        try await root.global.run(watch: configuration)
    }
}

struct WatchLatencyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch-latency",
        abstract: "Benchmark watch latency",
        discussion: """
            One watcher per --clients on one key; each put waits until every watcher has its event. \
            Latency runs from the put's acknowledgement to the event's arrival, as in etcd's tool.
            """)

    @ParentCommand var root: EtceteraBench

    @Option(help: "Total number of put requests.") var putTotal = 1000
    @Option(help: "Number of keys to put per second.") var putRate = 100
    @Option(help: "Key size of watch response.") var keySize = 32
    @Option(help: "Value size of watch response.") var valSize = 32

    func run() async throws {
        var configuration = WatchBenchmark.Configuration()
        configuration.streams = root.global.clients
        configuration.watchersPerStream = 1
        configuration.keySpaceSize = 1
        configuration.putTotal = putTotal
        configuration.putRate = putRate
        configuration.keySize = keySize
        configuration.valueSize = valSize
        configuration.lockstep = true
        try await root.global.run(watch: configuration)
    }
}
