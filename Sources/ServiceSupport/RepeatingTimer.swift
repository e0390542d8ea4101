import Dispatch

extension DispatchSource {
    /// A started timer that runs `handler` on `queue` every `interval` (first after one interval), for
    /// services whose state lives on one serial queue. Cancel it to stop.
    public static func repeatingTimer(
        every interval: Duration, on queue: DispatchQueue, handler: @escaping @Sendable () -> Void
    ) -> any DispatchSourceTimer {
        let (seconds, attoseconds) = interval.components
        let milliseconds = max(Int(seconds * 1000 + attoseconds / 1_000_000_000_000_000), 1)
        let timer = makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(milliseconds), repeating: .milliseconds(milliseconds))
        timer.setEventHandler(handler: handler)
        timer.resume()
        return timer
    }
}
