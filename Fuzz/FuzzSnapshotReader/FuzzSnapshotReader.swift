import Crypto
import Foundation
import FuzzSupport
import Snapshot

/// libFuzzer target: reading a snapshot file (`SnapshotReader`, what `etcdctl snapshot restore` and
/// `snapshot status` open, possibly a file from anywhere). The first byte chooses how the rest becomes
/// a file: as it is (odd), or as a body that gets its padding and a correct SHA-256 appended (even), so
/// that the record and trailer parser is reached past the checksum. A file must be refused with a
/// `SnapshotError` or read to its trailer, never trap; the part ranges of a transfer
/// (`SnapshotFormat.partRange`) are asked at offsets taken from the input.
@main
enum FuzzerEntry {
    static func main() { runLibFuzzer(testOneInput) }
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    guard size > 0 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    var contents = Array(input.dropFirst())
    if input[0] & 1 == 0 {
        let remainder = contents.count % SnapshotFormat.blockSize
        if remainder != 0 { contents += [UInt8](repeating: 0, count: SnapshotFormat.blockSize - remainder) }
        contents += SHA256.hash(data: contents)
    }
    guard FileManager.default.createFile(atPath: scratchFile, contents: Data(contents)) else {
        fatalError("cannot write \(scratchFile)")
    }
    defer { unlink(scratchFile) }
    guard let reader = try? SnapshotReader(path: scratchFile) else { return 0 }
    if var records = try? reader.records() {
        while let record = try? records.next() { _ = record }
    }
    let total = reader.summary.totalBytes
    for offset in [0, total / 2, total &- UInt64(SnapshotFormat.checksumSize), total, UInt64(size), .max] {
        if let range = SnapshotFormat.partRange(at: offset, totalBytes: total, maximumLength: UInt64(size)) {
            _ = try? SnapshotReader.bytes(of: scratchFile, in: range)
        }
    }
    return 0
}

/// The file each input is written to, one per process; in memory (`/dev/shm`) where there is one, since
/// writing and reading it back is most of the time an input takes.
private let scratchFile = (FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory)
    .appendingPathComponent("etcetera-fuzz-snapshot-\(ProcessInfo.processInfo.processIdentifier)").path
