import Catalog
import Foundation
import GRDB

/// The embedded catalog: one SQLite file (WAL mode, so API reads never wait for ingest
/// writes), through GRDB. Migrations run when it opens.
public final class SQLiteCatalog: RecordingCatalog {
    private let pool: DatabasePool

    public init(path: String) throws {
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // The records journal is the source of truth: a power cut that loses the last
            // commits here only makes the ingest read those lines again.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // 32 MiB of page cache per connection (SQLite's default is 2 MiB): the ingest's
            // upserts and the lists' index walks otherwise read the same pages again with a
            // system call each (a fifth of the ingest's CPU at 3,500 calls a second).
            try db.execute(sql: "PRAGMA cache_size = -32768")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw CatalogError(.migration, "SQLite catalog at \(path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("1-recordings") { db in
            try db.execute(sql: """
                CREATE TABLE recordings (
                    id TEXT PRIMARY KEY NOT NULL,
                    interaction_id TEXT NOT NULL,
                    segment INTEGER NOT NULL,
                    source TEXT NOT NULL,
                    state TEXT NOT NULL,
                    tenant TEXT NOT NULL,
                    started_at INTEGER NOT NULL,
                    ended_at INTEGER,
                    duration REAL,
                    src_address TEXT,
                    call_ids TEXT NOT NULL,
                    session_ids TEXT NOT NULL,
                    group_id TEXT,
                    vendor_ids TEXT NOT NULL,
                    participants TEXT NOT NULL,
                    files TEXT NOT NULL,
                    record TEXT NOT NULL
                );
                CREATE INDEX recordings_by_start ON recordings (started_at DESC, id DESC);
                CREATE INDEX recordings_by_tenant ON recordings (tenant, started_at DESC, id DESC);
                CREATE INDEX recordings_by_interaction ON recordings (interaction_id);
                CREATE TABLE recording_keys (
                    kind TEXT NOT NULL,
                    value TEXT NOT NULL,
                    recording_id TEXT NOT NULL,
                    PRIMARY KEY (kind, value, recording_id)
                ) WITHOUT ROWID;
                CREATE INDEX recording_keys_by_recording ON recording_keys (recording_id);
                CREATE TABLE journal_positions (
                    path TEXT PRIMARY KEY NOT NULL,
                    position INTEGER NOT NULL
                );
                CREATE TABLE api_tokens (
                    id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    tenant TEXT,
                    secret_hash TEXT NOT NULL UNIQUE,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE audit_log (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    at INTEGER NOT NULL,
                    token_id TEXT NOT NULL,
                    token_name TEXT NOT NULL,
                    action TEXT NOT NULL,
                    recording_id TEXT,
                    remote TEXT
                );
                """)
        }
        migrator.registerMigration("2-jobs") { db in
            try db.execute(sql: """
                ALTER TABLE recordings ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE recordings ADD COLUMN exported INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX recordings_to_export ON recordings (started_at, id) WHERE exported = 0;
                """)
        }
        return migrator
    }

    static func placeholder(_: Int) -> String { "?" }

    static func arguments(_ values: [CatalogSQL.Value]) -> StatementArguments {
        StatementArguments(values.map { value -> (any DatabaseValueConvertible)? in
            switch value {
            case .text(let text): return text
            case .integer(let number): return number
            case .real(let number): return number
            case .null: return nil
            }
        })
    }

    public func apply(_ entries: [CatalogEntry], positions: [JournalPosition]) async throws {
        do {
            try await pool.write { db in
                let upsert = try db.cachedStatement(sql: CatalogSQL.upsert(placeholder: Self.placeholder))
                let deleteKeys = try db.cachedStatement(sql: "DELETE FROM recording_keys WHERE recording_id = ?")
                let insertKey = try db.cachedStatement(sql: "INSERT OR IGNORE INTO recording_keys (kind, value, recording_id) VALUES (?, ?, ?)")
                for entry in entries {
                    try upsert.execute(arguments: Self.arguments(CatalogSQL.rowValues(entry)))
                    try deleteKeys.execute(arguments: [entry.id])
                    for (kind, value) in CatalogSQL.keys(entry) {
                        try insertKey.execute(arguments: [kind.rawValue, value, entry.id])
                    }
                }
                for position in positions {
                    try db.execute(sql: "INSERT INTO journal_positions (path, position) VALUES (?, ?) ON CONFLICT (path) DO UPDATE SET position = excluded.position",
                                   arguments: [position.path, position.offset])
                }
            }
        } catch {
            throw CatalogError(.unavailable, "SQLite write: \(error)")
        }
    }

    public func journalPositions() async throws -> [String: Int64] {
        try await pool.read { db in
            var positions: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT path, position FROM journal_positions") {
                positions[row[0]] = row[1]
            }
            return positions
        }
    }

    public func recording(id: String, tenant: String?) async throws -> CatalogEntry? {
        try await pool.read { db in
            var sql = "SELECT \(CatalogSQL.recordingColumns) FROM recordings WHERE id = ?"
            var arguments: StatementArguments = [id]
            if let tenant {
                sql += " AND tenant = ?"
                arguments += [tenant]
            }
            return try Row.fetchOne(db, sql: sql, arguments: arguments).map(Self.entry)
        }
    }

    public func list(_ query: RecordingQuery) async throws -> RecordingPage {
        let statement = CatalogSQL.list(query, placeholder: Self.placeholder)
        let rows = try await pool.read { db in
            let decoder = JSONDecoder()
            return try Row.fetchAll(db, sql: statement.sql, arguments: Self.arguments(statement.values)).map { Self.entry($0, decoder: decoder) }
        }
        return Self.page(rows, limit: query.limit)
    }

    static func page(_ rows: [CatalogEntry], limit: Int) -> RecordingPage {
        guard rows.count > limit else { return RecordingPage(items: rows, next: nil) }
        let items = Array(rows.prefix(limit))
        let last = items[items.count - 1]
        return RecordingPage(items: items, next: RecordingCursor(startedAtMicros: CatalogDate.micros(last.startedAt), id: last.id))
    }

    static func entry(_ row: Row) -> CatalogEntry { entry(row, decoder: JSONDecoder()) }

    static func entry(_ row: Row, decoder: JSONDecoder) -> CatalogEntry {
        CatalogSQL.entry(id: row[0], interactionID: row[1], segment: row[2], source: row[3], state: row[4], tenant: row[5],
                         startedAt: row[6], endedAt: row[7], duration: row[8], srcAddress: row[9], callIDs: row[10],
                         sessionIDs: row[11], groupID: row[12], vendorIDs: row[13], participants: row[14],
                         files: row[15], record: row[16], decoder: decoder)
    }

    public func count() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM recordings") ?? 0 }
    }

    public func insertToken(_ token: APIToken) async throws {
        try await pool.write { db in
            try db.execute(sql: "INSERT INTO api_tokens (id, name, role, tenant, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [token.id, token.name, token.role.rawValue, token.tenant, token.secretHash,
                                       CatalogDate.micros(token.createdAt)])
        }
    }

    public func tokens() async throws -> [APIToken] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, role, tenant, secret_hash, created_at FROM api_tokens ORDER BY created_at, id")
                .compactMap(Self.token)
        }
    }

    public func token(secretHash: String) async throws -> APIToken? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT id, name, role, tenant, secret_hash, created_at FROM api_tokens WHERE secret_hash = ?",
                             arguments: [secretHash]).flatMap(Self.token)
        }
    }

    static func token(_ row: Row) -> APIToken? {
        guard let role = APIRole(rawValue: row[2]) else { return nil }
        return APIToken(id: row[0], name: row[1], role: role, tenant: row[3], secretHash: row[4],
                        createdAt: CatalogDate.date(micros: row[5]))
    }

    public func deleteToken(id: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM api_tokens WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    public func appendAudit(_ entry: AuditEntry) async throws {
        try await pool.write { db in
            try db.execute(sql: "INSERT INTO audit_log (at, token_id, token_name, action, recording_id, remote) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [CatalogDate.micros(entry.at), entry.tokenID, entry.tokenName, entry.action,
                                       entry.recordingID, entry.remote])
        }
    }

    public func audit(limit: Int, before: Int64?) async throws -> [AuditEntry] {
        try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT seq, at, token_id, token_name, action, recording_id, remote FROM audit_log WHERE seq < ? ORDER BY seq DESC LIMIT ?",
                                        arguments: [before ?? Int64.max, limit])
            return rows.map { row in
                AuditEntry(sequence: row[0], at: CatalogDate.date(micros: row[1]), tokenID: row[2], tokenName: row[3],
                           action: row[4], recordingID: row[5], remote: row[6])
            }
        }
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    public func close() async {
        try? pool.close()
    }

    public func setLegalHold(id: String, _ held: Bool) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE recordings SET legal_hold = ? WHERE id = ?", arguments: [held ? 1 : 0, id])
            return db.changesCount > 0
        }
    }

    public func isOnLegalHold(id: String) async throws -> Bool {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT legal_hold FROM recordings WHERE id = ?", arguments: [id]) == 1
        }
    }

    public func expiredRecordings(startedBefore cutoff: Date, tenant: String?, exceptTenants: [String], limit: Int) async throws -> [CatalogEntry] {
        let statement = CatalogSQL.expired(cutoffMicros: CatalogDate.micros(cutoff), tenant: tenant, exceptTenants: exceptTenants,
                                           limit: limit, placeholder: Self.placeholder)
        return try await pool.read { db in
            try Row.fetchAll(db, sql: statement.sql, arguments: Self.arguments(statement.values)).map(Self.entry)
        }
    }

    public func deleteRecording(id: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM recording_keys WHERE recording_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM recordings WHERE id = ?", arguments: [id])
        }
    }

    public func exportCandidates(limit: Int) async throws -> [CatalogEntry] {
        let statement = CatalogSQL.exportCandidates(limit: limit, placeholder: Self.placeholder)
        return try await pool.read { db in
            try Row.fetchAll(db, sql: statement.sql, arguments: Self.arguments(statement.values)).map(Self.entry)
        }
    }

    public func markExported(id: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE recordings SET exported = 1 WHERE id = ?", arguments: [id])
        }
    }
}
