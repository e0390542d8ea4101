import Foundation

/// The keys a request addresses, decoded from etcd's `key` / `range_end` convention: an empty end means
/// the single key, an end of `"\0"` means every key from `key` on, any other end is exclusive.
public enum KeyRange: Sendable, Hashable {
    case single([UInt8])
    case from([UInt8])
    case between([UInt8], [UInt8])

    public init(key: Data, rangeEnd: Data) {
        if rangeEnd.isEmpty {
            self = .single([UInt8](key))
        } else if rangeEnd.count == 1, rangeEnd.first == 0 {
            self = .from([UInt8](key))
        } else {
            self = .between([UInt8](key), [UInt8](rangeEnd))
        }
    }

    public var start: [UInt8] {
        switch self {
        case .single(let key), .from(let key), .between(let key, _): key
        }
    }

    /// Whether `key` falls in the range.
    public func contains(_ key: [UInt8]) -> Bool {
        switch self {
        case .single(let only): key == only
        case .from(let start): !key.lexicographicallyPrecedes(start)
        case .between(let start, let end): !key.lexicographicallyPrecedes(start) && key.lexicographicallyPrecedes(end)
        }
    }

    /// Whether keys after `key` (in byte order) can still be in the range.
    func continues(after key: [UInt8]) -> Bool {
        switch self {
        case .single: false
        case .from: true
        case .between(_, let end): key.lexicographicallyPrecedes(end)
        }
    }
}
