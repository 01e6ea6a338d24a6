import Foundation

/// What the records journal is applied to (`JournalIngestor`): the catalog, the webhook outbox.
/// `apply` stores what the entries mean together with the journal positions they were read up
/// to, atomically: after a failure nothing of the batch is kept, and the ingest reads the same
/// lines again, so each line is applied once.
public protocol JournalSink: Sendable {
    /// Stores the entries (the last state of each recording wins) and the journal positions
    /// they were read up to, atomically.
    func apply(_ entries: [CatalogEntry], positions: [JournalPosition]) async throws
    /// How far each journal has been applied, by the keys `apply` was given.
    func journalPositions() async throws -> [String: Int64]
}

/// Where recordings are catalogued: SQLite (embedded default) or PostgreSQL. The REST API
/// and the journal ingest see only this. Writes come from the records journal only.
public protocol RecordingCatalog: JournalSink {

    /// One recording; nil when unknown, or of another tenant than `tenant` (when given).
    func recording(id: String, tenant: String?) async throws -> CatalogEntry?
    /// One page, newest first. Its entries carry no `recordJSON` (empty): `recording(id:)`
    /// has the whole record.
    func list(_ query: RecordingQuery) async throws -> RecordingPage
    func count() async throws -> Int

    func insertToken(_ token: APIToken) async throws
    func tokens() async throws -> [APIToken]
    func token(secretHash: String) async throws -> APIToken?
    /// False when there was no such token.
    func deleteToken(id: String) async throws -> Bool

    func appendAudit(_ entry: AuditEntry) async throws
    /// Newest first; `before` is the sequence number the previous page ended at.
    func audit(limit: Int, before: Int64?) async throws -> [AuditEntry]

    /// A cheap query that fails when the database is unreachable (readiness).
    func ping() async throws
    func close() async

    // Maintenance jobs (retention purge, export), run on one node at a time.

    /// Sets or clears the legal hold (a held recording is never purged); false when unknown.
    func setLegalHold(id: String, _ held: Bool) async throws -> Bool
    func isOnLegalHold(id: String) async throws -> Bool
    /// Finished recordings started before `cutoff`, not on legal hold, oldest first: of
    /// `tenant` when given, else of every tenant not in `exceptTenants`.
    func expiredRecordings(startedBefore cutoff: Date, tenant: String?, exceptTenants: [String], limit: Int) async throws -> [CatalogEntry]
    /// Removes a recording's row and search keys (its files are the caller's).
    func deleteRecording(id: String) async throws
    /// Finished recordings not exported yet, oldest first.
    func exportCandidates(limit: Int) async throws -> [CatalogEntry]
    func markExported(id: String) async throws
}

/// How far one journal file has been applied (bytes from its start, up to a line end).
public struct JournalPosition: Sendable, Equatable, Hashable {
    /// Relative to the records folder: `2026/11/30/records.jsonl`.
    public var path: String
    public var offset: Int64

    public init(path: String, offset: Int64) {
        self.path = path
        self.offset = offset
    }
}

public enum APIRole: String, Sendable, Codable, CaseIterable {
    /// Everything, tokens and reload included.
    case admin
    /// Read, listen, and control live calls (pause, resume, stop).
    case supervisor
    /// Read only: recordings, metadata, audio, live calls, audit log.
    case auditor
}

/// An API token as stored: only the SHA-256 of the secret is kept.
public struct APIToken: Sendable, Equatable {
    public var id: String
    public var name: String
    public var role: APIRole
    /// When set, the token sees only this tenant's recordings and calls.
    public var tenant: String?
    public var secretHash: String
    public var createdAt: Date

    public init(id: String, name: String, role: APIRole, tenant: String?, secretHash: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.role = role
        self.tenant = tenant
        self.secretHash = secretHash
        self.createdAt = createdAt
    }
}

/// One access worth auditing (every audio download or play).
public struct AuditEntry: Sendable, Equatable {
    /// Assigned by the catalog; 0 before it is stored.
    public var sequence: Int64
    public var at: Date
    public var tokenID: String
    public var tokenName: String
    public var action: String
    public var recordingID: String?
    public var remote: String?

    public init(sequence: Int64 = 0, at: Date, tokenID: String, tokenName: String, action: String,
                recordingID: String?, remote: String?) {
        self.sequence = sequence
        self.at = at
        self.tokenID = tokenID
        self.tokenName = tokenName
        self.action = action
        self.recordingID = recordingID
        self.remote = remote
    }
}

/// A catalog failure, redacted: no caller data in the description.
public struct CatalogError: Error, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unavailable, migration, corrupt, invalid
    }
    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "catalog \(code.rawValue): \(detail)" }
}
