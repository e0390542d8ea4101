import ServiceSupport
import Testing

@Suite("Advertised endpoints", .timeLimit(.minutes(10)))
struct AdvertisedEndpointTests {
    @Test("a wildcard bind is advertised on the machine's address, with its port")
    func wildcard() {
        for bind in ["tcp://0.0.0.0:2400", "tcp://*:2400", "tcp://[::]:2400"] {
            #expect(AdvertisedEndpoint.forBind(bind, host: { "172.18.0.5" }) == "tcp://172.18.0.5:2400")
        }
    }

    @Test("a bind on a particular address, or not over TCP, is advertised as it is")
    func particular() {
        for bind in ["tcp://127.0.0.1:2400", "tcp://watch-1:2400", "ipc:///tmp/watch-0.sock"] {
            #expect(AdvertisedEndpoint.forBind(bind, host: { "172.18.0.5" }) == bind)
        }
    }

    @Test("the machine's address is never a loopback address unless only the host name is left")
    func machineAddress() {
        let address = AdvertisedEndpoint.machineAddress()
        #expect(!address.isEmpty)
        #expect(!address.hasPrefix("127."))
    }
}
