extension Etcetera_Watch_SessionOutput {
    /// What the output counts against its session's delivery window in the watch process, and what
    /// the gateway credits back once it has reached the client: the bytes of its response, plus a
    /// fixed 64 so that a window also bounds how many small outputs are on their way. An output
    /// without a response (progress only) never reaches the client and costs nothing.
    public var windowCharge: Int {
        response.isEmpty ? 0 : response.count + 64
    }
}
