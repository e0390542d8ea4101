/// What a permission allows; the raw values are etcd's `authpb.Permission.Type`.
public enum PermissionType: Int32, Sendable, Hashable, CaseIterable {
    case read = 0
    case write = 1
    case readWrite = 2

    /// Whether a permission of this type allows an operation of type `needed` (`.read` or `.write`).
    public func allows(_ needed: PermissionType) -> Bool {
        self == .readWrite || self == needed
    }
}

/// A role's permission on keys, in etcd's `key` / `range_end` convention: an empty `rangeEnd` is the single
/// key, `[0]` is every key from `key` on, anything else the half-open range `[key, rangeEnd)`.
public struct Permission: Sendable, Hashable, CustomStringConvertible {
    public var type: PermissionType
    public var key: [UInt8]
    public var rangeEnd: [UInt8]

    public init(_ type: PermissionType, key: [UInt8], rangeEnd: [UInt8] = []) {
        self.type = type
        self.key = key
        self.rangeEnd = rangeEnd
    }

    /// A permission on every key starting with `prefix`, as `etcdctl role grant-permission --prefix` sends it.
    public static func prefix(_ type: PermissionType, _ prefix: [UInt8]) -> Permission {
        Permission(type, key: prefix, rangeEnd: prefixEnd(prefix))
    }

    /// The end of the range of keys starting with `prefix` (clientv3's `GetPrefixRangeEnd`): the prefix with
    /// its last byte below 0xff incremented and what follows dropped; `[0]` (every key) when there is none.
    public static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }

    public var description: String {
        let type = switch self.type {
        case .read: "read"
        case .write: "write"
        case .readWrite: "readwrite"
        }
        if rangeEnd.isEmpty { return "\(type) \(Self.show(key))" }
        if rangeEnd == [0] { return "\(type) [\(Self.show(key)), <open ended>" }
        return "\(type) [\(Self.show(key)), \(Self.show(rangeEnd)))"
    }

    private static func show(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).debugDescription
    }
}
