import Bus
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A bus server in C, written from docs/bus.md alone: it answers PING with PONG and REQUEST with a FINAL
/// reply "c-echo:" + payload, or holds requests unanswered when started with "hold".
private let cServerSource = #"""
#include <zmq.h>
#include <stdio.h>
#include <string.h>

static int more(void *socket) {
    int more = 0; size_t size = sizeof more;
    zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &size);
    return more;
}

int main(int argc, char **argv) {
    void *context = zmq_ctx_new();
    void *router = zmq_socket(context, ZMQ_ROUTER);
    if (zmq_bind(router, argv[1]) != 0) { perror("bind"); return 1; }
    int hold = argc > 2 && strcmp(argv[2], "hold") == 0;
    printf("ready\n");
    fflush(stdout);
    static unsigned char identity[256], header[16], payload[65536], reply[65536 + 7];
    for (;;) {
        int identity_size = zmq_recv(router, identity, sizeof identity, 0);
        if (identity_size < 0) return 1;
        if (!more(router)) continue;
        int header_size = zmq_recv(router, header, sizeof header, 0);
        int payload_size = -1;
        if (more(router)) payload_size = zmq_recv(router, payload, sizeof payload, 0);
        while (more(router)) { char skip; zmq_recv(router, &skip, 1, 0); }
        if (header_size != 16 || header[0] != 'E' || header[1] != 'T' || header[2] != 1) continue;
        if (header[3] == 0x02 && payload_size < 0) {            /* PING -> PONG, same id */
            header[3] = 0x05;
            zmq_send(router, identity, identity_size, ZMQ_SNDMORE);
            zmq_send(router, header, 16, 0);
        } else if (header[3] == 0x01 && payload_size >= 0 && !hold) {  /* REQUEST -> FINAL, status 0 */
            if (payload_size > (int)sizeof payload) payload_size = sizeof payload;
            header[3] = 0x04;
            memset(header + 12, 0, 4);
            memcpy(reply, "c-echo:", 7);
            memcpy(reply + 7, payload, payload_size);
            zmq_send(router, identity, identity_size, ZMQ_SNDMORE);
            zmq_send(router, header, 16, ZMQ_SNDMORE);
            zmq_send(router, reply, payload_size + 7, 0);
        }
    }
}
"""#

extension BusTests {
    @Suite("Foreign server process")
    struct ForeignServer {
        @Test("a C server killed with SIGKILL fails requests in flight; restarted, the same client uses it")
        func killedAndRestarted() async throws {
            let directory = try TemporaryDirectory()
            let binary = try compileCServer(in: directory)
            let endpoint = directory.endpoint("c-server")
            let client = try BusClient(connect: endpoint, configuration: fastClientConfiguration(), logger: testLogger())
            defer { client.close() }

            let holding = try start(binary, endpoint, "hold")
            #expect(await eventually { client.isPeerAlive })
            let inFlight = (0..<5).map { index in
                Task { () async -> (BusError?, Duration) in
                    await timedFailure { () async throws(BusError) in
                        try await client.request([UInt8]("\(index)"), timeout: .seconds(30))
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(200))
            let killedAt = ContinuousClock.now
            kill(holding.processIdentifier, SIGKILL)
            holding.waitUntilExit()
            for task in inFlight {
                #expect(await task.value.0 == .unavailable)
            }
            #expect(ContinuousClock.now - killedAt < .seconds(1))

            let restarted = try start(binary, endpoint)
            defer {
                kill(restarted.processIdentifier, SIGKILL)
                restarted.waitUntilExit()
            }
            var reply: [UInt8]?
            let deadline = ContinuousClock.now + .seconds(5)
            while reply == nil && ContinuousClock.now < deadline {
                reply = try? await client.request([UInt8]("after restart"), timeout: .seconds(1))
                if reply == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(reply == [UInt8]("c-echo:after restart"))
        }

        private func compileCServer(in directory: TemporaryDirectory) throws -> String {
            let source = directory.path + "/server.c"
            let binary = directory.path + "/server"
            try cServerSource.write(toFile: source, atomically: true, encoding: .utf8)
            let compiler = Process()
            compiler.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            compiler.arguments = ["cc", "-O1", "-o", binary, source, "-lzmq"]
            try compiler.runAlone()
            compiler.waitUntilExit()
            try #require(compiler.terminationStatus == 0, "cc could not build the C server")
            return binary
        }

        /// Starts the C server and waits for its "ready" line (it has bound the endpoint).
        private func start(_ binary: String, _ arguments: String...) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
            let output = try process.runAlone {
                let output = Pipe()
                process.standardOutput = output
                return output
            }
            let line = output.fileHandleForReading.availableData
            try #require(String(decoding: line, as: UTF8.self).hasPrefix("ready"))
            return process
        }
    }
}
