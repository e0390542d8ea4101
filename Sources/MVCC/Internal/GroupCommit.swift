import EtceteraAPI
import Storage
import Synchronization

/// The store's single writer, run on the caller's thread: applies a group of writes in order, syncs
/// the group's batch once, then completes every write in it and reports the new revisions.
///
/// There is no writer thread of its own: the kv service commits from one committer queue, which hands
/// the store every write that arrived during the previous sync as the next group. A lock serializes
/// callers, so any thread may write. A write the storage cannot make durable ends the process
/// (`FailStop`), so a group is never half answered and the store never serves past a failed sync.
final class GroupCommit: Sendable {
    private struct State {
        var closed = false
        var observer: MVCCStore.CommitObserver?
    }

    private let state = Mutex(State())

    func setObserver(_ observer: @escaping MVCCStore.CommitObserver) {
        state.withLock { $0.observer = observer }
    }

    /// Refuses later writes; returns once the group being written (if any) is complete.
    func close() {
        state.withLock { $0.closed = true }
    }

    func write(_ writes: [PendingWrite], store: MVCCStore) {
        state.withLock { state in
            guard !state.closed else {
                for write in writes { write.completion(.failure(.storageFailure("store is closed"))) }
                return
            }
            var start = writes.startIndex
            while start < writes.endIndex {
                let end = min(start + store.configuration.maxGroupSize, writes.endIndex)
                applyGroup(writes[start..<end], store: store, observer: state.observer)
                start = end
            }
        }
    }

    private func applyGroup(_ writes: ArraySlice<PendingWrite>, store: MVCCStore, observer: MVCCStore.CommitObserver?) {
        var session = WriteSession(base: store.committedView)
        var results: [(PendingWrite, Result<WriteResponse, MVCCError>)] = []
        results.reserveCapacity(writes.count)
        for write in writes {
            if write.needsCommittedHistory, session.hasChanges {
                commit(session, results, store: store, observer: observer)
                session = WriteSession(base: store.committedView)
                results = []
            }
            guard !store.isCorrupt || session.onlyRefreshesLeases(write.request) else {
                results.append((write, .failure(.corruptAlarmActive)))
                continue
            }
            guard store.admitsWrite(cost: session.quotaCost(of: write.request)) else {
                results.append((write, .failure(.noSpace)))
                continue
            }
            do {
                results.append((write, .success(try session.apply(write.request))))
            } catch {
                results.append((write, .failure(error)))
            }
        }
        commit(session, results, store: store, observer: observer)
    }

    private func commit(
        _ session: WriteSession, _ results: [(PendingWrite, Result<WriteResponse, MVCCError>)],
        store: MVCCStore, observer: MVCCStore.CommitObserver?
    ) {
        let state = session.state
        if session.hasChanges || state.appliedIndex != session.base.appliedIndex {
            do {
                try store.commit(session.finalBatch(), revision: state.revision,
                                 compactRevision: state.compactRevision, appliedIndex: state.appliedIndex,
                                 liveKeys: session.base.liveKeys + state.liveKeyChange)
            } catch {
                let failure = MVCCError(storage: error)
                for (write, _) in results { write.completion(.failure(failure)) }
                return
            }
        }
        var physicalCompactions: [(PendingWrite, Result<WriteResponse, MVCCError>)] = []
        for (write, result) in results {
            if write.isPhysicalCompaction, case .success = result {
                physicalCompactions.append((write, result))
            } else {
                write.completion(result)
            }
        }
        // Clients first: publishing the events is not on their path.
        if let observer, !state.committedRevisions.isEmpty {
            observer(state.committedRevisions)
        }
        if let revision = state.scheduledCompaction {
            let waiting = physicalCompactions
            store.compactor.schedule(revision: revision) {
                store.refreshSnapshot()
                for (write, result) in waiting { write.completion(result) }
            }
        }
    }
}
