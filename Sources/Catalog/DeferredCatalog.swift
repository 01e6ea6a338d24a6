import Foundation

/// A catalog that could not be opened at start (folder not writable, disk full): each call
/// tries to open it again, and fails as `unavailable` until it opens. The recorder starts
/// and records regardless; the journal keeps every record until the catalog opens.
public final class DeferredCatalog: RecordingCatalog, @unchecked Sendable {
    private let open: @Sendable () throws -> any RecordingCatalog
    private let lock = NSLock()
    private var opened: (any RecordingCatalog)?

    public init(open: @escaping @Sendable () throws -> any RecordingCatalog) {
        self.open = open
    }

    private func catalog() throws -> any RecordingCatalog {
        try lock.withLock {
            if let opened { return opened }
            do {
                let catalog = try open()
                opened = catalog
                return catalog
            } catch {
                throw CatalogError(.unavailable, "the catalog cannot be opened: \(error)")
            }
        }
    }

    public func apply(_ entries: [CatalogEntry], positions: [JournalPosition]) async throws { try await catalog().apply(entries, positions: positions) }
    public func journalPositions() async throws -> [String: Int64] { try await catalog().journalPositions() }
    public func recording(id: String, tenant: String?) async throws -> CatalogEntry? { try await catalog().recording(id: id, tenant: tenant) }
    public func list(_ query: RecordingQuery) async throws -> RecordingPage { try await catalog().list(query) }
    public func count() async throws -> Int { try await catalog().count() }
    public func insertToken(_ token: APIToken) async throws { try await catalog().insertToken(token) }
    public func tokens() async throws -> [APIToken] { try await catalog().tokens() }
    public func token(secretHash: String) async throws -> APIToken? { try await catalog().token(secretHash: secretHash) }
    public func deleteToken(id: String) async throws -> Bool { try await catalog().deleteToken(id: id) }
    public func appendAudit(_ entry: AuditEntry) async throws { try await catalog().appendAudit(entry) }
    public func audit(limit: Int, before: Int64?) async throws -> [AuditEntry] { try await catalog().audit(limit: limit, before: before) }
    public func ping() async throws { try await catalog().ping() }
    public func setLegalHold(id: String, _ held: Bool) async throws -> Bool { try await catalog().setLegalHold(id: id, held) }
    public func isOnLegalHold(id: String) async throws -> Bool { try await catalog().isOnLegalHold(id: id) }
    public func expiredRecordings(startedBefore cutoff: Date, tenant: String?, exceptTenants: [String], limit: Int) async throws -> [CatalogEntry] {
        try await catalog().expiredRecordings(startedBefore: cutoff, tenant: tenant, exceptTenants: exceptTenants, limit: limit)
    }
    public func deleteRecording(id: String) async throws { try await catalog().deleteRecording(id: id) }
    public func exportCandidates(limit: Int) async throws -> [CatalogEntry] { try await catalog().exportCandidates(limit: limit) }
    public func markExported(id: String) async throws { try await catalog().markExported(id: id) }
    public func close() async {
        if let opened = lock.withLock({ opened }) { await opened.close() }
    }
}
