/// How much may wait in a bounded line of requests (``BusBatchLine``, ``BusSerialLine``): a number of
/// requests and a number of their payload bytes. One request is always let in when none waits, whatever
/// its size: the bus already bounds a message, and a line that refused it would refuse it for ever.
struct WaitingLimits: Sendable {
    let requests: Int
    let bytes: Int

    init(requests: Int, bytes: Int) {
        self.requests = max(requests, 1)
        self.bytes = max(bytes, 0)
    }

    /// Whether a request of `size` payload bytes may join `waiting` requests holding `waitingBytes`.
    func admit(size: Int, waiting: Int, waitingBytes: Int) -> Bool {
        waiting == 0 || (waiting < requests && waitingBytes <= bytes - min(size, bytes))
    }
}
