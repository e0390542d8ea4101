import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an I/O thread drives: the sockets of one bus object and the state only that thread touches.
protocol IODriver: AnyObject {
    associatedtype Command: Sendable

    /// The sockets to poll for input. The loop rebuilds its poll set when `pollGeneration` changes.
    var pollSockets: [ZMQSocket] { get }
    var pollGeneration: Int { get }

    /// Handles one command posted from another thread.
    func handle(_ command: Command, now: ContinuousClock.Instant)

    /// Reads what the sockets have ready, without blocking.
    func receiveAvailable(now: ContinuousClock.Instant)

    /// Fires due timers and returns how long the loop may sleep (nil: until something arrives).
    func serviceTimers(now: ContinuousClock.Instant) -> Duration?

    /// The loop is exiting: fail what is pending (including `leftovers`, never handled), close the sockets.
    func shutdown(leftovers: [Command])
}

/// Runs `driver` until a stop is requested through `mailbox`. Each turn drains every queued command, then
/// every readable message, fires timers, and sleeps in `zmq_poll` on the sockets plus the mailbox's wake-up
/// pipe, with a timeout set by the earliest timer.
func runIOLoop<Driver: IODriver>(_ driver: Driver, mailbox: Mailbox<Driver.Command>) {
    let clock = ContinuousClock()
    var commands: [Driver.Command] = []
    commands.reserveCapacity(256)
    var items: [zmq_pollitem_t] = []
    var generation = Int.min

    while true {
        let stop = mailbox.drain(into: &commands)
        var now = clock.now
        for command in commands {
            driver.handle(command, now: now)
        }
        commands.removeAll(keepingCapacity: true)
        if stop { break }

        now = clock.now
        driver.receiveAvailable(now: now)
        now = clock.now
        let wait = driver.serviceTimers(now: now)

        guard mailbox.prepareToSleep() else { continue }
        if generation != driver.pollGeneration {
            generation = driver.pollGeneration
            items = driver.pollSockets.map {
                zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
            }
            items.append(zmq_pollitem_t(socket: nil, fd: mailbox.wakeFD, events: Int16(ZMQ_POLLIN), revents: 0))
        }
        let rc = zmq_poll(&items, Int32(items.count), pollTimeout(wait))
        let pipeReadable = rc > 0 && items[items.count - 1].revents & Int16(ZMQ_POLLIN) != 0
        mailbox.didWake(pipeReadable: pipeReadable)
    }
    driver.shutdown(leftovers: mailbox.close())
}

/// Milliseconds for `zmq_poll`, rounded up so a timer is never polled for before it is due.
private func pollTimeout(_ wait: Duration?) -> Int {
    guard let wait else { return -1 }
    if wait <= .zero { return 0 }
    let (seconds, attoseconds) = wait.components
    if seconds > 86_400 { return 86_400_000 }
    let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int(milliseconds)
}

extension Duration {
    /// Whole milliseconds, rounded up and clamped to `UInt32` (the wire's timeout field).
    var wireMilliseconds: UInt32 {
        if self <= .zero { return 0 }
        let (seconds, attoseconds) = components
        let milliseconds = seconds.multipliedReportingOverflow(by: 1000)
        if milliseconds.overflow || milliseconds.partialValue >= Int64(UInt32.max) { return UInt32.max }
        let total = milliseconds.partialValue + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return UInt32(min(total, Int64(UInt32.max)))
    }
}
