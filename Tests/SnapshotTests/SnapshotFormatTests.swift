import Crypto
import Foundation
import Snapshot
import Testing

@Suite("Snapshot file format")
final class SnapshotFormatTests {
    private let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "snapshot-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static let records: [(key: [UInt8], value: [UInt8])] = [
        (Array("a".utf8), []),
        (Array("k\u{0}key".utf8), Array("value".utf8)),
        (Array("kz".utf8), [UInt8](repeating: 7, count: 3000)),
        (Array("m".utf8) + [0xFF], [0, 1, 2]),
    ]

    /// Writes `records` to a new file in the test's directory and returns its path and summary.
    private func write(
        _ records: [(key: [UInt8], value: [UInt8])] = SnapshotFormatTests.records, name: String = "s.snap"
    ) throws -> (String, SnapshotSummary) {
        let path = directory + "/" + name
        let writer = try SnapshotWriter(path: path)
        for record in records { try writer.append(key: record.key, value: record.value) }
        return (path, try writer.finish(revision: 42, compactRevision: 7, keyCount: 2))
    }

    private func contents(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    private func replace(_ path: String, with bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test("a written file reads back: its records in order, its trailer, 32 bytes over a multiple of 512, ending with the body's SHA-256")
    func roundTrip() throws {
        let (path, written) = try write()
        let bytes = try contents(path)
        #expect(bytes.count % 512 == 32)
        #expect(Array(bytes.prefix(8)) == Array("ETCSNAP1".utf8))
        let body = bytes.dropLast(32)
        #expect(Array(SHA256.hash(data: Array(body))) == Array(bytes.suffix(32)))
        #expect(written.totalBytes == UInt64(bytes.count))
        #expect(written.checksum == Array(bytes.suffix(32)))
        #expect(written.hash == UInt32(bytes[bytes.count - 32]) << 24 | UInt32(bytes[bytes.count - 31]) << 16 | UInt32(bytes[bytes.count - 30]) << 8 | UInt32(bytes[bytes.count - 29]))

        let reader = try SnapshotReader(path: path)
        #expect(reader.summary == written)
        #expect(reader.summary.revision == 42 && reader.summary.compactRevision == 7)
        #expect(reader.summary.keyCount == 2 && reader.summary.recordCount == 4)
        var records = try reader.records()
        var read: [(key: [UInt8], value: [UInt8])] = []
        while let record = try records.next() { read.append(record) }
        #expect(read.map(\.key) == Self.records.map(\.key))
        #expect(read.map(\.value) == Self.records.map(\.value))
        #expect(!FileManager.default.fileExists(atPath: path + ".part"))
    }

    @Test("an empty snapshot and one with records over several read chunks both verify")
    func sizes() throws {
        let (emptyPath, empty) = try write([], name: "empty.snap")
        #expect(empty.totalBytes == 512 + 32)
        #expect(try SnapshotReader(path: emptyPath).summary.recordCount == 0)
        let large = (0..<40).map { index in (key: Array(String(format: "key-%03d", index).utf8), value: [UInt8](repeating: UInt8(index), count: 100_000)) }
        let (largePath, _) = try write(large, name: "large.snap")
        var records = try SnapshotReader(path: largePath).records()
        var count = 0
        while let record = try records.next() {
            #expect(record.value == large[count].value)
            count += 1
        }
        #expect(count == 40)
    }

    @Test("a truncated file is refused as truncated, whatever is missing")
    func truncated() throws {
        let (path, _) = try write()
        let bytes = try contents(path)
        for length in [0, 5, 100, bytes.count - 32, bytes.count - 1, bytes.count - 600] {
            try replace(path, with: Array(bytes.prefix(length)))
            #expect(throws: SnapshotError.truncated("")) { try SnapshotReader(path: path) }
        }
        try replace(path, with: Array(bytes.prefix(bytes.count - 1)))
        let error = try #require(throws: SnapshotError.self) { try SnapshotReader(path: path) }
        #expect("\(error)".contains("truncated") && "\(error)".contains("\(bytes.count - 1) bytes"))
    }

    @Test("a flipped byte anywhere, in a record, the trailer, the padding or the checksum, fails the checksum")
    func flippedByte() throws {
        let (path, _) = try write()
        let bytes = try contents(path)
        for offset in [9, 20, 3100, bytes.count - 40, bytes.count - 1] {
            var damaged = bytes
            damaged[offset] ^= 0x10
            try replace(path, with: damaged)
            let error = try #require(throws: SnapshotError.self) { try SnapshotReader(path: path) }
            #expect(error == .checksumMismatch(""), "offset \(offset): \(error)")
            #expect("\(error)".contains("corrupted"))
        }
    }

    @Test("a file with another magic is not a snapshot")
    func wrongMagic() throws {
        let (path, _) = try write()
        var bytes = try contents(path)
        bytes.replaceSubrange(0..<8, with: Array("SQLite f".utf8))
        try replace(path, with: bytes)
        let error = try #require(throws: SnapshotError.self) { try SnapshotReader(path: path) }
        #expect(error == .wrongMagic(""))
        #expect("\(error)".contains("not an Etcetera snapshot"))
        #expect(throws: SnapshotError.unreadable("")) { try SnapshotReader(path: directory + "/missing.snap") }
    }

    @Test("a body whose checksum holds but whose structure does not is refused as malformed")
    func malformed() throws {
        let (path, _) = try write()
        let bytes = try contents(path)
        // The trailer's record count (its last 8 bytes) says 5 instead of 4; the checksum is recomputed.
        var body = Array(bytes.dropLast(32))
        let trailerEnd = body.lastIndex { $0 != 0 }! + 1
        body[trailerEnd - 1] = 5
        try replace(path, with: body + Array(SHA256.hash(data: body)))
        let error = try #require(throws: SnapshotError.self) { try SnapshotReader(path: path) }
        #expect(error == .malformed(""))
        #expect("\(error)".contains("counts 5 records"))
    }

    @Test("a writer refuses an existing file and leaves nothing when dropped unfinished")
    func writerFiles() throws {
        let (path, _) = try write()
        #expect(throws: SnapshotError.writeFailed("")) { try SnapshotWriter(path: path) }
        let abandoned = directory + "/abandoned.snap"
        do {
            let writer = try SnapshotWriter(path: abandoned)
            try writer.append(key: [1], value: [2])
        }
        #expect(!FileManager.default.fileExists(atPath: abandoned))
        #expect(!FileManager.default.fileExists(atPath: abandoned + ".part"))
    }

    @Test("parts cover the body in pieces of at most the part size, then exactly the checksum")
    func parts() {
        let total: UInt64 = 2048 + 32
        #expect(SnapshotFormat.partRange(at: 0, totalBytes: total, maximumLength: 1000) == 0..<1000)
        #expect(SnapshotFormat.partRange(at: 2000, totalBytes: total, maximumLength: 1000) == 2000..<2048)
        #expect(SnapshotFormat.partRange(at: 2048, totalBytes: total, maximumLength: 1000) == 2048..<2080)
        #expect(SnapshotFormat.partRange(at: 2048, totalBytes: total, maximumLength: 4) == 2048..<2080)
        #expect(SnapshotFormat.partRange(at: 2049, totalBytes: total, maximumLength: 1000) == nil)
        #expect(SnapshotFormat.partRange(at: 2080, totalBytes: total, maximumLength: 1000) == nil)
    }
}
