import GRPCCore

/// gRPC calls with requests and responses as encoded bytes, for requests the generated types cannot
/// express (undefined enum numbers) and servers compared byte for byte.
struct RawCall<Transport: ClientTransport>: Sendable {
    let client: GRPCClient<Transport>

    /// How a call ended: its first response message, or its status when it failed, or neither within
    /// the time allowed (a stream the server keeps open without answering).
    enum Outcome: Sendable, Equatable {
        case response([UInt8])
        case failed(RPCError.Code, String)
        /// A stream the server ended with OK before sending anything.
        case ended
        case silent
    }

    func unary(service: String, method: String, _ request: [UInt8]) async -> Outcome {
        do {
            return try await client.unary(
                request: ClientRequest(message: request),
                descriptor: MethodDescriptor(fullyQualifiedService: service, method: method),
                serializer: Bytes(), deserializer: Bytes(), options: .defaults
            ) { response in .response(try response.message) }
        } catch let error as RPCError {
            return .failed(error.code, error.message)
        } catch {
            return .failed(.unknown, "\(error)")
        }
    }

    /// Opens a stream, sends `request` and returns the first thing the server answers. With
    /// `holdingOpen` (a client stream) the client's side stays open meanwhile, as a watching client's
    /// does; otherwise it closes after the request, as a server-streaming call's must.
    func firstOfStream(
        service: String, method: String, _ request: [UInt8], holdingOpen: Bool, waiting limit: Duration
    ) async -> Outcome {
        let (answered, answer) = AsyncStream<Void>.makeStream()
        let call = StreamingClientRequest<[UInt8]> { writer in
            try await writer.write(request)
            if holdingOpen {
                for await _ in answered {}
            }
        }
        defer { answer.finish() }
        return await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                do {
                    return try await client.bidirectionalStreaming(
                        request: call, descriptor: MethodDescriptor(fullyQualifiedService: service, method: method),
                        serializer: Bytes(), deserializer: Bytes(), options: .defaults
                    ) { response in
                        for try await message in response.messages { return .response(message) }
                        return .ended
                    }
                } catch let error as RPCError {
                    return .failed(error.code, error.message)
                } catch {
                    return .failed(.unknown, "\(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return .silent
            }
            let first = await group.next() ?? .silent
            answer.finish()
            group.cancelAll()
            return first
        }
    }

    private struct Bytes: MessageSerializer, MessageDeserializer {
        func serialize<Output: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Output { Output(message) }

        func deserialize<Input: GRPCContiguousBytes>(_ serializedMessageBytes: Input) throws -> [UInt8] {
            serializedMessageBytes.withUnsafeBytes { Array($0) }
        }
    }
}
