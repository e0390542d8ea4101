import Foundation

/// Every child process a test starts is started through here, one at a time.
private let startingChild = NSLock()

extension Process {
    /// Opens the child's descriptors with `openDescriptors` (pipes, log files) and starts it, while no
    /// other test starts a process.
    ///
    /// On Linux, `Process.run()` lists the descriptors open at that moment and closes them in the child;
    /// one another thread opens between the listing and the spawn is inherited. When that is the write
    /// end of another command's pipe, or the socket by which Foundation learns that another process exited,
    /// the other command's output does not end, nor does it count as exited, until this unrelated child
    /// exits too: a stop or a command seen many seconds late, or never. The tests start many processes in
    /// parallel; taking turns closes that window.
    @discardableResult
    public func runAlone<Opened>(openingDescriptors openDescriptors: () throws -> Opened) throws -> Opened {
        try startingChild.withLock {
            let opened = try openDescriptors()
            try run()
            return opened
        }
    }

    /// `runAlone(openingDescriptors:)` for a child that opens no descriptor of its own.
    public func runAlone() throws {
        try runAlone {}
    }

    /// `runAlone(openingDescriptors:)` for a server whose standard output and error both go to the file
    /// at `logPath`, created empty.
    public func runAlone(loggingTo logPath: String) throws {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        try runAlone {
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            standardOutput = log
            standardError = log
        }
    }
}
