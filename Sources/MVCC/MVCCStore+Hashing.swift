import Foundation
import EtceteraAPI
import Storage

extension MVCCStore {
    /// etcd's HashKV: CRC-32C over the MVCC history up to `revision` (0: the current one), computed
    /// over the very bytes etcd hashes (its revision keys and encoded key-values, see docs/storage.md),
    /// so a store and an etcd member with the same history report the same hash. Revisions at or
    /// below the compaction point count only where a read at `revision` still needs them.
    public func hashKV(revision: Int64) throws(MVCCError) -> Etcdserverpb_HashKVResponse {
        let view = committedView
        if revision > 0 && revision <= view.compactRevision { throw .compacted }
        if revision > view.revision { throw .futureRevision }
        let upTo = revision == 0 ? view.revision : revision
        let liveAtRevision = try !view.readContext.range(Self.anyKey(at: upTo)).kvs.isEmpty

        var crc = CRC32C()
        crc.update("key".utf8)
        let cursor = view.snapshot.makeCursor()
        let history = view.snapshot.makeCursor()
        cursor.seek(StorageLayout.revisionKey(Revision(main: 1)))
        while cursor.isValid, let stored = StorageLayout.decodeRevisionKey(cursor.key), stored.main <= upTo {
            let event: Mvccpb_Event
            do {
                event = try Mvccpb_Event(serializedBytes: cursor.value)
            } catch {
                throw .corrupt("undecodable event at revision \(stored)")
            }
            let key = [UInt8](event.kv.key)
            let isTombstone = event.type == .delete
            if stored.main <= view.compactRevision, liveAtRevision {
                // etcd keeps, below its compaction point, each key's newest revision at `upTo` unless
                // that revision deletes it.
                history.seekBefore(StorageLayout.historyKey(key, Revision(main: upTo + 1)))
                let newest = history.isValid ? StorageLayout.decodeHistoryKey(history.key) : nil
                guard !isTombstone, let newest, newest.key == key, newest.revision == stored else {
                    cursor.next()
                    continue
                }
            }
            crc.update(Self.etcdRevisionKey(stored, tombstone: isTombstone))
            var value = Mvccpb_KeyValue()
            if isTombstone { value.key = event.kv.key } else { value = event.kv }
            do {
                crc.update(try value.serializedBytes() as [UInt8])
            } catch {
                throw .corrupt("unencodable key-value at revision \(stored)")
            }
            cursor.next()
        }
        var response = Etcdserverpb_HashKVResponse()
        response.header.revision = view.revision
        response.hash = crc.value
        response.compactRevision = view.compactRevision
        return response
    }

    /// etcd's Hash: a checksum of everything the store holds. Unlike HashKV it depends on the storage
    /// layout, so it compares Etcetera stores with each other only.
    public func hash() -> Etcdserverpb_HashResponse {
        let view = committedView
        var crc = CRC32C()
        let cursor = view.snapshot.makeCursor()
        cursor.seekToFirst()
        while cursor.isValid {
            crc.update(cursor.key)
            crc.update(cursor.value)
            cursor.next()
        }
        var response = Etcdserverpb_HashResponse()
        response.header.revision = view.revision
        response.hash = crc.value
        return response
    }

    /// etcd's bolt key for a revision: 8-byte big-endian main, "_", 8-byte big-endian sub, and "t"
    /// for a deletion.
    private static func etcdRevisionKey(_ revision: Revision, tombstone: Bool) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(18)
        key.appendBigEndian(UInt64(bitPattern: revision.main))
        key.append(UInt8(ascii: "_"))
        key.appendBigEndian(UInt64(bitPattern: revision.sub))
        if tombstone { key.append(UInt8(ascii: "t")) }
        return key
    }

    private static func anyKey(at revision: Int64) -> Etcdserverpb_RangeRequest {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data([0])
        request.rangeEnd = Data([0])
        request.revision = revision
        request.limit = 1
        request.keysOnly = true
        return request
    }
}
