/// An ordered list of puts and deletes applied atomically by `KeyValueStorage.write(_:sync:)`:
/// either every operation becomes visible or none does, which is what lets one MVCC revision span
/// several storage keys.
public struct WriteBatch: Sendable {
    public enum Operation: Sendable, Equatable {
        case put(key: [UInt8], value: [UInt8])
        case delete(key: [UInt8])
    }

    public private(set) var operations: [Operation] = []

    public init() {}

    public var isEmpty: Bool { operations.isEmpty }

    public mutating func put(_ key: [UInt8], _ value: [UInt8]) {
        operations.append(.put(key: key, value: value))
    }

    public mutating func delete(_ key: [UInt8]) {
        operations.append(.delete(key: key))
    }
}
