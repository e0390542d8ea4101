import Foundation

/// What a process and its children hold in memory, read from `/proc`: how tests check that memory
/// follows state and not traffic.
public enum ProcessMemory {
    /// The resident set size of `pid` in bytes, or nil once it is gone.
    public static func residentBytes(of pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    /// The children of `pid`, each with the file name of its executable (`etcetera-gateway`).
    public static func children(of pid: Int32) -> [(pid: Int32, name: String)] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> (pid: Int32, name: String)? in
            guard let child = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")")
            else { return nil }
            // After the command's closing parenthesis: state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == pid,
                  let commandLine = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/cmdline")),
                  let executable = commandLine.split(separator: 0).first
            else { return nil }
            return (child, URL(fileURLWithPath: String(decoding: executable, as: UTF8.self)).lastPathComponent)
        }
        .sorted { $0.name < $1.name }
    }
}
