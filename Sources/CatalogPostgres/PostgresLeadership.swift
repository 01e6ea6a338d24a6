import Catalog
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// Job leadership among nodes sharing one PostgreSQL: the node whose session holds the advisory
/// lock `lockKey` leads. The lock lives as long as that node's connection, so when the node
/// dies (or loses the database) the server frees it and another node's next `check` takes it:
/// the takeover is bounded by the check interval plus the time the server needs to notice the
/// dead session (at once for a process that died; TCP keepalive for a host that vanished).
public final class PostgresLeadership: JobLeadership, @unchecked Sendable {
    public static let lockKey: Int64 = 73_650_002
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let state = NIOLockedValueBox<(connection: PostgresConnection?, leading: Bool)>((nil, false))
    private let checkTimeout: Duration = .seconds(5)

    init(configuration: PostgresConnection.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func check() async -> Bool {
        do {
            return try await withTimeout { try await self.checkOnce() }
        } catch {
            // The session is gone or hangs: whatever lock it held is the server's to free.
            let old = state.withLockedValue { value in
                defer { value = (nil, false) }
                return value.connection
            }
            if let old { Task { try? await old.close() } }
            logger.debug("job leadership check failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func checkOnce() async throws -> Bool {
        let current = state.withLockedValue { $0 }
        if let connection = current.connection, current.leading {
            // Still leading while the session answers: the lock is held by the session.
            try await connection.query("SELECT 1", logger: logger)
            return true
        }
        let connection: PostgresConnection
        if let existing = current.connection {
            connection = existing
        } else {
            connection = try await PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                                                              id: 1, logger: logger).get()
            state.withLockedValue { $0.connection = connection }
        }
        var acquired = false
        for try await value in try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockKey))", logger: logger).decode(Bool.self) {
            acquired = value
        }
        state.withLockedValue { $0.leading = acquired }
        return acquired
    }

    public func release() async {
        let old = state.withLockedValue { value in
            defer { value = (nil, false) }
            return value.connection
        }
        // Closing the session frees its advisory locks (bounded: the session may be dead).
        if let old { _ = try? await withTimeout { try await old.close() } }
    }

    /// Runs `work`, giving up after `checkTimeout` without waiting for it: a query on a session
    /// the server cut may never return, and the check must not hang with it.
    private func withTimeout<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = checkTimeout
        let once = NIOLockedValueBox(false)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let finish: @Sendable (Result<T, any Error>) -> Void = { result in
                guard once.withLockedValue({ done in defer { done = true }; return !done }) else { return }
                continuation.resume(with: result)
            }
            let worker = Task {
                do { finish(.success(try await work())) } catch { finish(.failure(error)) }
            }
            Task {
                try? await Task.sleep(for: timeout)
                finish(.failure(CatalogError(.unavailable, "PostgreSQL did not answer within \(timeout)")))
                worker.cancel()
            }
        }
    }
}
