import Dispatch
import EtceteraAPI
import Foundation
import Storage
import Synchronization

/// The single writer thread: drains the queue of pending writes, applies them as one group, syncs
/// the group's batch once, then completes every request in it and reports the new revisions.
final class GroupCommitter: Sendable {
    private struct Queue {
        var pending: [PendingWrite] = []
        var stopped = false
        var observer: MVCCStore.CommitObserver?
    }

    private let queue = Mutex(Queue())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    func start(store: MVCCStore) {
        // The thread object outlives `stop()` by a moment; it must not keep the store (and so the
        // database's lock) alive after the writer has finished, or reopening the same directory at
        // once fails.
        let handOff = StoreHandOff(store)
        let thread = Thread { [self] in
            if let store = handOff.take() { run(store: store) }
            finished.signal()
        }
        thread.name = "mvcc-writer"
        thread.start()
    }

    func setObserver(_ observer: @escaping MVCCStore.CommitObserver) {
        queue.withLock { $0.observer = observer }
    }

    func enqueue(_ write: PendingWrite) {
        let accepted = queue.withLock { queue in
            guard !queue.stopped else { return false }
            queue.pending.append(write)
            return true
        }
        if accepted {
            wakeUp.signal()
        } else {
            write.completion(.failure(.storageFailure("store is closed")))
        }
    }

    func stop() {
        let wasRunning = queue.withLock { queue in
            defer { queue.stopped = true }
            return !queue.stopped
        }
        guard wasRunning else { return }
        wakeUp.signal()
        finished.wait()
    }

    private func run(store: MVCCStore) {
        while true {
            wakeUp.wait()
            let (writes, stopped, observer) = queue.withLock { queue in
                let taken = Array(queue.pending.prefix(store.configuration.maxGroupSize))
                queue.pending.removeFirst(taken.count)
                return (taken, queue.stopped, queue.observer)
            }
            if !writes.isEmpty {
                applyGroup(writes, store: store, observer: observer)
                if queue.withLock({ !$0.pending.isEmpty }) { wakeUp.signal() }
            }
            if stopped, queue.withLock({ $0.pending.isEmpty }) { return }
        }
    }

    private func applyGroup(_ writes: [PendingWrite], store: MVCCStore, observer: MVCCStore.CommitObserver?) {
        var session = WriteSession(base: store.committedView)
        var results: [(PendingWrite, Result<WriteResponse, MVCCError>)] = []
        for write in writes {
            if write.needsCommittedHistory, session.hasChanges {
                commit(session, results, store: store, observer: observer)
                session = WriteSession(base: store.committedView)
                results = []
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
                                 compactRevision: state.compactRevision, appliedIndex: state.appliedIndex)
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

/// Passes the store to the writer thread exactly once.
private final class StoreHandOff: Sendable {
    private let store: Mutex<MVCCStore?>

    init(_ store: MVCCStore) {
        self.store = Mutex(store)
    }

    func take() -> MVCCStore? {
        store.withLock { stored in
            defer { stored = nil }
            return stored
        }
    }
}
