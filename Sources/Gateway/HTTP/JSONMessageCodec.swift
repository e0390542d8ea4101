import EtceteraAPI
import SwiftProtobuf

/// Turns one gRPC method's messages into etcd's gateway JSON and back, so that a JSON request can go
/// through the same handler as a gRPC one: the request arrives as JSON and leaves as protobuf bytes,
/// the response arrives as protobuf bytes and leaves as JSON.
///
/// The JSON is what etcd's grpc-gateway (gogo messages through golang/protobuf's `jsonpb`, with
/// `OrigName`) reads and writes: proto field names (`create_revision`, `ID`), 64-bit integers as
/// strings, bytes as padded base64, enums by name, fields at their default left out. SwiftProtobuf's
/// proto3 JSON with `preserveProtoFieldNames` matches it value for value; its string escapes are
/// rewritten to Go's (`GoJSONText`), and unknown fields are skipped as `jsonpb` skips them with
/// `AllowUnknownFields`, except that an unknown enum name is refused as `jsonpb` refuses it.
struct JSONMessageCodec: Sendable {
    /// A request whose JSON is well formed but does not fit the message.
    struct Mismatch: Error {
        let message: String
    }

    let decodeRequest: @Sendable (_ json: [UInt8]) throws(Mismatch) -> [UInt8]
    let encodeResponse: @Sendable (_ message: [UInt8]) -> String?

    static func messages<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ request: Request.Type, _ response: Response.Type
    ) -> JSONMessageCodec {
        JSONMessageCodec(
            decodeRequest: { json throws(Mismatch) in
                do {
                    return try decode(Request.self, from: json).serializedBytes()
                } catch JSONDecodingError.unrecognizedEnumValue {
                    throw Mismatch(message: "etcetera: unknown enum value in \(Request.protoMessageName)")
                } catch {
                    throw Mismatch(message: "etcetera: the request does not fit \(Request.protoMessageName): \(error)")
                }
            },
            encodeResponse: { bytes in
                guard let message = try? Response(serializedBytes: bytes, options: MessageDepth.binaryDecodingOptions),
                      let json = try? message.jsonString(options: outputOptions) else { return nil }
                return GoJSONText.normalized(json)
            })
    }

    /// Decodes strictly first, so that an unknown enum name is noticed, then again skipping unknown
    /// fields if the request has any.
    private static func decode<Request: SwiftProtobuf.Message>(_ type: Request.Type, from json: [UInt8]) throws -> Request {
        do {
            return try Request(jsonUTF8Bytes: json, options: MessageDepth.jsonDecodingOptions)
        } catch JSONDecodingError.unknownField {
            var lenient = MessageDepth.jsonDecodingOptions
            lenient.ignoreUnknownFields = true
            return try Request(jsonUTF8Bytes: json, options: lenient)
        }
    }

    private static let outputOptions: JSONEncodingOptions = {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return options
    }()
}
