import Foundation
import SwiftProtobuf
import TestSupport

/// The requests of the sweep, generated from the descriptors of etcd's API (`Fixtures/etcd-api.protoset`,
/// written by scripts/generate-protos.sh): for every RPC, its request with one field at a time set to an
/// extreme — integers to their bounds and around zero, enums to a number no case names, bytes and strings
/// to empty, a NUL and just over the request limit — nested messages included (a txn's compares and ops,
/// a watch's create request). A field added to etcd's protos is swept without a case being written.
struct RequestSweep {
    /// One RPC of etcd's API.
    struct Method: Sendable, CustomStringConvertible {
        /// `etcdserverpb.KV`.
        let service: String
        let name: String
        /// `.etcdserverpb.RangeRequest`.
        let inputType: String
        let clientStreaming: Bool
        let serverStreaming: Bool

        var description: String { "\(service)/\(name)" }
    }

    /// What one field is set to.
    enum Value: Hashable, Sendable, CustomStringConvertible {
        case signed(Int64)
        case unsigned(UInt64)
        case bool(Bool)
        /// An enum number no case of the enum names.
        case undefinedEnum(Int32)
        case empty
        case nul
        /// This many bytes (`x`s).
        case filler(Int)
        /// A nested message as the baseline builds it, with no field changed.
        case baseline

        var description: String {
            switch self {
            case .signed(let value): "\(value)"
            case .unsigned(let value): "\(value)"
            case .bool(let value): "\(value)"
            case .undefinedEnum(let value): "\(value) (undefined)"
            case .empty: "\"\""
            case .nul: "\"\\0\""
            case .filler(let count): "<\(count) bytes>"
            case .baseline: "{…}"
            }
        }
    }

    /// One request: `method` called with its baseline request where `path` holds `value`.
    struct Case: Sendable, CustomStringConvertible {
        let method: Method
        /// Field names from the request down to the field set, e.g. `success.request_range.limit`.
        let path: String
        /// The full name of the field set, e.g. `etcdserverpb.RangeRequest.limit`.
        let field: String
        let value: Value
        let request: [UInt8]

        var description: String { "\(method) \(path) = \(value)" }
    }

    let methods: [Method]
    private let messages: [String: Google_Protobuf_DescriptorProto]
    private let enums: [String: Google_Protobuf_EnumDescriptorProto]
    /// etcd's `--max-request-bytes` on both servers.
    private let requestLimit: Int
    /// What the baseline puts in string and bytes fields of these names, so that a request reaches the
    /// checks behind "key is not provided" and "user name is empty".
    private static let baselineText: [String: String] = ["key": "foo", "name": "sweep", "user": "sweep", "role": "sweep"]

    init(descriptorSet: Data, requestLimit: Int) throws {
        let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet)
        var messages: [String: Google_Protobuf_DescriptorProto] = [:]
        var enums: [String: Google_Protobuf_EnumDescriptorProto] = [:]
        func collect(_ message: Google_Protobuf_DescriptorProto, scope: String) {
            let name = "\(scope).\(message.name)"
            messages[name] = message
            for nested in message.nestedType { collect(nested, scope: name) }
            for nested in message.enumType { enums["\(name).\(nested.name)"] = nested }
        }
        var methods: [Method] = []
        for file in set.file {
            let scope = file.package.isEmpty ? "" : ".\(file.package)"
            for message in file.messageType { collect(message, scope: scope) }
            for enumeration in file.enumType { enums["\(scope).\(enumeration.name)"] = enumeration }
            for service in file.service {
                for method in service.method {
                    methods.append(Method(
                        service: "\(file.package).\(service.name)", name: method.name, inputType: method.inputType,
                        clientStreaming: method.clientStreaming, serverStreaming: method.serverStreaming))
                }
            }
        }
        self.methods = methods
        self.messages = messages
        self.enums = enums
        self.requestLimit = requestLimit
    }

    /// Every case of `method`, in the order of the fields in etcd's protos.
    func cases(of method: Method) throws -> [Case] {
        try variants(of: method.inputType, visiting: []).map { variant in
            Case(method: method, path: variant.path, field: variant.field, value: variant.value, request: variant.message.encoded)
        }
    }

    /// `method`'s baseline request with its top-level field `name` set to `value`, for a value the
    /// sweep does not generate.
    func single(_ method: Method, field name: String, _ value: Value) throws -> Case {
        guard let field = messages[method.inputType]?.field.first(where: { $0.name == name }) else {
            throw TestFailure("\(method.inputType) has no field \(name)")
        }
        var message = try baseline(method.inputType)
        message.set(field.number, try wire(value))
        return Case(method: method, path: name, field: "\(method.inputType.dropFirst()).\(name)", value: value, request: message.encoded)
    }

    private struct Variant {
        let path: String
        let field: String
        let value: Value
        let message: WireMessage
    }

    /// The message `type` with one field at a time changed; a message type already on the way down (a
    /// txn inside a txn) is not entered again.
    private func variants(of type: String, visiting: Set<String>) throws -> [Variant] {
        guard let descriptor = messages[type] else { throw TestFailure("no descriptor for \(type)") }
        let base = try baseline(type)
        var result: [Variant] = []
        for field in descriptor.field {
            let fullName = "\(type.dropFirst()).\(field.name)"
            var changes: [(path: String, field: String, value: Value, wire: WireMessage.Value)] = []
            if field.type == .message {
                guard !visiting.contains(field.typeName) else { continue }
                changes.append((field.name, fullName, .baseline, .message(try baseline(field.typeName))))
                for nested in try variants(of: field.typeName, visiting: visiting.union([type])) {
                    changes.append(("\(field.name).\(nested.path)", nested.field, nested.value, .message(nested.message)))
                }
            } else {
                for value in try extremes(of: field) {
                    changes.append((field.name, fullName, value, try wire(value)))
                }
            }
            for change in changes {
                var message = base
                message.set(field.number, change.wire)
                result.append(Variant(path: change.path, field: change.field, value: change.value, message: message))
            }
        }
        return result
    }

    private func baseline(_ type: String) throws -> WireMessage {
        guard let descriptor = messages[type] else { throw TestFailure("no descriptor for \(type)") }
        var message = WireMessage()
        for field in descriptor.field where field.label != .repeated && (field.type == .string || field.type == .bytes) {
            if let text = Self.baselineText[field.name] { message.set(field.number, .bytes(Array(text.utf8))) }
        }
        return message
    }

    private func extremes(of field: Google_Protobuf_FieldDescriptorProto) throws -> [Value] {
        switch field.type {
        case .int64:
            return [.signed(.min), .signed(-1), .signed(0), .signed(1), .signed(.max)]
        case .int32:
            return [.signed(Int64(Int32.min)), .signed(-1), .signed(0), .signed(1), .signed(Int64(Int32.max))]
        case .uint64:
            return [.unsigned(0), .unsigned(.max)]
        case .uint32:
            return [.unsigned(0), .unsigned(UInt64(UInt32.max))]
        case .bool:
            return [.bool(true)]
        case .enum:
            guard let enumeration = enums[field.typeName] else { throw TestFailure("no descriptor for \(field.typeName)") }
            return [.undefinedEnum((enumeration.value.map(\.number).max() ?? 0) + 1)]
        case .string, .bytes:
            return [.empty, .nul, .filler(requestLimit + 1)]
        default:
            // A new kind of field (sint64, fixed64, …) needs its encoding added here.
            throw TestFailure("field \(field.name) has a type the sweep does not encode: \(field.type)")
        }
    }

    private func wire(_ value: Value) throws -> WireMessage.Value {
        switch value {
        case .signed(let value): .varint(UInt64(bitPattern: value))
        case .unsigned(let value): .varint(value)
        case .bool(let value): .varint(value ? 1 : 0)
        case .undefinedEnum(let value): .varint(UInt64(bitPattern: Int64(value)))
        case .empty: .bytes([])
        case .nul: .bytes([0])
        case .filler(let count): .bytes(Array(repeating: UInt8(ascii: "x"), count: count))
        case .baseline: throw TestFailure("a baseline message is built from its descriptor")
        }
    }
}

