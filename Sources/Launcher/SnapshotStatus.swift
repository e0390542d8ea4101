import Foundation
import Snapshot

/// What `etcetera snapshot status` prints, in etcdctl's output formats: the hash (the first 4 bytes of
/// the file's SHA-256 checksum, big-endian), the revision, the live keys and the file's size.
public struct SnapshotStatus: Sendable, Hashable {
    /// etcdctl's `--write-out` values that `snapshot status` supports.
    public enum Format: String, Sendable, Hashable {
        case simple, table, json, fields
    }

    public let summary: SnapshotSummary

    /// Verifies the snapshot at `file`.
    /// - Throws: `LauncherError` with `.snapshotUnusable`, saying what is wrong with the file.
    public init(file: String) throws {
        do {
            summary = try SnapshotReader(path: file).summary
        } catch {
            throw LauncherError(code: .snapshotUnusable, message: "\(error)")
        }
    }

    public init(summary: SnapshotSummary) {
        self.summary = summary
    }

    /// The text etcdctl prints for the same numbers, ending with a newline.
    public func render(_ format: Format) -> String {
        let hash = String(summary.hash, radix: 16)
        let cells = [hash, String(summary.revision), String(summary.keyCount), Self.humanBytes(summary.totalBytes)]
        switch format {
        case .simple:
            return cells.joined(separator: ", ") + "\n"
        case .table:
            return Self.table(header: ["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"], row: cells)
        case .json:
            return "{\"hash\":\(summary.hash),\"revision\":\(summary.revision),\"totalKey\":\(summary.keyCount),\"totalSize\":\(summary.totalBytes)}\n"
        case .fields:
            return "\"Hash\" : \(summary.hash)\n\"Revision\" : \(summary.revision)\n\"Keys\" : \(summary.keyCount)\n\"Size\" : \(summary.totalBytes)\n"
        }
    }

    /// go-humanize's `Bytes`, which etcdctl uses: SI units, one decimal below 10.
    static func humanBytes(_ size: UInt64) -> String {
        if size < 10 { return "\(size) B" }
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        let exponent = (log(Double(size)) / log(1000)).rounded(.down)
        let value = (Double(size) / pow(1000, exponent) * 10 + 0.5).rounded(.down) / 10
        return String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[Int(exponent)]
    }

    /// The layout of etcdctl's tables (olekukonko/tablewriter): centred headers, right-aligned cells.
    private static func table(header: [String], row: [String]) -> String {
        let widths = zip(header, row).map { max($0.count, $1.count) }
        let rule = "+" + widths.map { String(repeating: "-", count: $0 + 2) + "+" }.joined() + "\n"
        func line(_ cells: [String], _ pad: (String, Int) -> String) -> String {
            "|" + zip(cells, widths).map { " " + pad($0, $1) + " |" }.joined() + "\n"
        }
        let centred = line(header) { text, width in
            let gap = width - text.count
            return String(repeating: " ", count: gap / 2) + text + String(repeating: " ", count: gap - gap / 2)
        }
        let right = line(row) { text, width in String(repeating: " ", count: width - text.count) + text }
        return rule + centred + rule + right + rule
    }
}
