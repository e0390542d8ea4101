import Auth
import AuthStorage
import Foundation
import Storage
import Synchronization

func makeStore(
    _ storage: any KeyValueStorage = InMemoryStorage(), tokens: any TokenProvider = SimpleTokenProvider()
) throws -> AuthStore {
    var configuration = AuthStore.Configuration()
    configuration.bcryptCost = fastCost
    return try AuthStore(storage: storage, configuration: configuration, tokenProvider: tokens)
}

/// A store with a root user holding the root role, auth enabled.
func makeEnabledStore(
    _ storage: any KeyValueStorage = InMemoryStorage(), tokens: any TokenProvider = SimpleTokenProvider()
) throws -> AuthStore {
    let store = try makeStore(storage, tokens: tokens)
    try store.addUser(name: "root", password: "rootpw")
    try store.grantRole("root", to: "root")
    try store.enable()
    return store
}

func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "etcetera-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// In-memory storage whose writes can be made to fail, to show a failed write changes nothing.
final class FailingStorage: KeyValueStorage {
    let base = InMemoryStorage()
    let failing = Atomic(false)

    func write(_ batch: WriteBatch, sync: Bool) throws(StorageError) {
        if failing.load(ordering: .relaxed) { throw .ioFailed("injected failure") }
        try base.write(batch, sync: sync)
    }

    func snapshot() -> any StorageSnapshot { base.snapshot() }
    func approximateSize(from start: [UInt8], to end: [UInt8]) -> UInt64 { base.approximateSize(from: start, to: end) }
    var sizeOnDisk: UInt64 { base.sizeOnDisk }
    func compact(from start: [UInt8]?, to end: [UInt8]?) {}
}

/// READ on `[key, rangeEnd)` (a single key when `rangeEnd` is empty), as a Range needs it.
func reading(_ key: [UInt8], _ rangeEnd: [UInt8] = []) -> AuthRequirement {
    .keys([Permission(.read, key: key, rangeEnd: rangeEnd)])
}

/// WRITE on `[key, rangeEnd)`, as a Put or DeleteRange needs it.
func writing(_ key: [UInt8], _ rangeEnd: [UInt8] = []) -> AuthRequirement {
    .keys([Permission(.write, key: key, rangeEnd: rangeEnd)])
}

extension AuthState {
    /// The production decision (``AuthPolicy/decide(_:for:)``) on this state, its refusal thrown.
    func check(_ requirement: AuthRequirement, _ caller: AuthInfo?) throws(AuthError) {
        let policy = AuthPolicy(isEnabled: isEnabled, table: permissionTable)
        if case .refused(let error) = policy.decide(requirement, for: caller) { throw error }
    }
}
