import Dispatch
import Foundation
import Synchronization

/// Runs every store call on one serial queue (one SQLite connection, one writer), off Swift's cooperative pool.
public final class StoreExecutor: @unchecked Sendable {
    private let queue = DispatchQueue(label: "tram-collector-store")
    private let store: CollectorStore

    public init(store: CollectorStore) { self.store = store }

    public func run<T: Sendable>(_ body: @escaping @Sendable (CollectorStore) throws -> T) async throws -> T {
        nonisolated(unsafe) let store = store
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(store) })
            }
        }
    }
}
