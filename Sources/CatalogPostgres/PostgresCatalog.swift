import Catalog
import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// The production catalog: PostgreSQL through PostgresNIO's connection pool. `run()` must be
/// running (the server adds it to its service group) for queries to be served. Migrations
/// run at the first write (`prepare`), under an advisory lock so that nodes sharing the
/// database never migrate at once; until the database answers, the journal keeps everything.
public final class PostgresCatalog: RecordingCatalog, @unchecked Sendable {
    private let client: PostgresClient
    private let logger: Logger
    /// What a dedicated connection (job leadership) needs.
    private let connection: (host: String, port: Int, user: String, password: String?, database: String?, sslMode: String)
    private let prepared = NSLock()
    private var isPrepared = false
    /// How long a query may wait for a connection before the caller hears the database is down.
    private let queryTimeout: Duration

    /// From `postgres://user:password@host:port/database` (`?sslmode=require` for TLS).
    public init(url: String, logger: Logger, queryTimeout: Duration = .seconds(5)) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw CatalogError(.invalid, "database URL must be postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        default: tls = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: String(components.path.dropFirst()).isEmpty ? nil : String(components.path.dropFirst()),
            tls: tls)
        configuration.options.maximumConnections = 8
        configuration.options.connectTimeout = .seconds(3)
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        connection = (host, components.port ?? 5432, components.user ?? "postgres", components.password,
                      String(components.path.dropFirst()).isEmpty ? nil : String(components.path.dropFirst()), sslMode)
        self.logger = logger
        self.queryTimeout = queryTimeout
    }

    /// Runs the connection pool until the task is cancelled.
    public func run() async {
        await client.run()
    }

    static let migrations: [String] = [
        """
        CREATE TABLE recordings (
            id TEXT COLLATE "C" PRIMARY KEY,
            interaction_id TEXT NOT NULL,
            segment INTEGER NOT NULL,
            source TEXT NOT NULL,
            state TEXT NOT NULL,
            tenant TEXT NOT NULL,
            started_at BIGINT NOT NULL,
            ended_at BIGINT,
            duration DOUBLE PRECISION,
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
            value TEXT COLLATE "C" NOT NULL,
            recording_id TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (kind, value, recording_id)
        );
        CREATE INDEX recording_keys_by_recording ON recording_keys (recording_id);
        CREATE TABLE journal_positions (
            path TEXT PRIMARY KEY,
            position BIGINT NOT NULL
        );
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            tenant TEXT,
            secret_hash TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL
        );
        CREATE TABLE audit_log (
            seq BIGSERIAL PRIMARY KEY,
            at BIGINT NOT NULL,
            token_id TEXT NOT NULL,
            token_name TEXT NOT NULL,
            action TEXT NOT NULL,
            recording_id TEXT,
            remote TEXT
        );
        """,
        """
        ALTER TABLE recordings ADD COLUMN legal_hold SMALLINT NOT NULL DEFAULT 0;
        ALTER TABLE recordings ADD COLUMN exported SMALLINT NOT NULL DEFAULT 0;
        CREATE INDEX recordings_to_export ON recordings (started_at, id) WHERE exported = 0;
        """,
    ]

    /// Runs the migrations not yet applied (once per process, at the first use).
    func prepare() async throws {
        if prepared.withLock({ isPrepared }) { return }
        try await timed {
            try await self.client.withTransaction(logger: self.logger) { connection in
                // One node migrates at a time; the others wait here, then find nothing to do.
                try await connection.query("SELECT pg_advisory_xact_lock(73650001)", logger: self.logger)
                try await connection.query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())", logger: self.logger)
                var applied = Set<Int>()
                for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: self.logger).decode(Int.self) {
                    applied.insert(version)
                }
                for (index, sql) in Self.migrations.enumerated() where !applied.contains(index + 1) {
                    for statement in sql.split(separator: ";") where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                        try await connection.query(PostgresQuery(unsafeSQL: String(statement)), logger: self.logger)
                    }
                    try await connection.query("INSERT INTO schema_migrations (version) VALUES (\(index + 1))", logger: self.logger)
                    self.logger.notice("catalog migrated", metadata: ["version": "\(index + 1)"])
                }
            }
        }
        prepared.withLock { isPrepared = true }
    }

    /// Runs `work`, giving up after `queryTimeout` (a pool waiting for an unreachable server
    /// would otherwise hold the caller indefinitely).
    private func timed<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = queryTimeout
        do {
            return try await withThrowingTaskGroup(of: T.self) { group in
                group.addTask { try await work() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw CatalogError(.unavailable, "PostgreSQL did not answer within \(timeout)")
                }
                defer { group.cancelAll() }
                guard let result = try await group.next() else { throw CatalogError(.unavailable, "no result") }
                return result
            }
        } catch let error as CatalogError {
            throw error
        } catch {
            throw CatalogError(.unavailable, "PostgreSQL: \(String(reflecting: error))")
        }
    }

    static func placeholder(_ index: Int) -> String { "$\(index)" }

    static func bindings(_ values: [CatalogSQL.Value]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .text(let text): bindings.append(text)
            case .integer(let number): bindings.append(number)
            case .real(let number): bindings.append(number)
            case .null: bindings.appendNull()
            }
        }
        return bindings
    }

    public func apply(_ entries: [CatalogEntry], positions: [JournalPosition]) async throws {
        try await prepare()
        let logger = self.logger
        try await timed {
            try await self.client.withTransaction(logger: logger) { connection in
                let upsert = CatalogSQL.upsert(placeholder: Self.placeholder)
                for entry in entries {
                    try await connection.query(PostgresQuery(unsafeSQL: upsert, binds: Self.bindings(CatalogSQL.rowValues(entry))), logger: logger)
                    try await connection.query("DELETE FROM recording_keys WHERE recording_id = \(entry.id)", logger: logger)
                    let keys = CatalogSQL.keys(entry)
                    if !keys.isEmpty {
                        var values: [CatalogSQL.Value] = []
                        var rows: [String] = []
                        for (kind, value) in keys {
                            values.append(contentsOf: [.text(kind.rawValue), .text(value), .text(entry.id)])
                            let base = values.count - 3
                            rows.append("($\(base + 1), $\(base + 2), $\(base + 3))")
                        }
                        try await connection.query(PostgresQuery(unsafeSQL: "INSERT INTO recording_keys (kind, value, recording_id) VALUES \(rows.joined(separator: ", ")) ON CONFLICT DO NOTHING",
                                                                 binds: Self.bindings(values)), logger: logger)
                    }
                }
                for position in positions {
                    try await connection.query("INSERT INTO journal_positions (path, position) VALUES (\(position.path), \(position.offset)) ON CONFLICT (path) DO UPDATE SET position = excluded.position", logger: logger)
                }
            }
        }
    }

    public func journalPositions() async throws -> [String: Int64] {
        try await prepare()
        return try await timed {
            var positions: [String: Int64] = [:]
            for try await (path, position) in try await self.client.query("SELECT path, position FROM journal_positions", logger: self.logger).decode((String, Int64).self) {
                positions[path] = position
            }
            return positions
        }
    }

    private func entries(_ query: PostgresQuery) async throws -> [CatalogEntry] {
        try await prepare()
        return try await timed {
            var entries: [CatalogEntry] = []
            let decoder = JSONDecoder()
            for try await row in try await self.client.query(query, logger: self.logger) {
                let cells = row.makeRandomAccess()
                entries.append(CatalogSQL.entry(
                    id: try cells[0].decode(String.self), interactionID: try cells[1].decode(String.self),
                    segment: Int64(try cells[2].decode(Int32.self)), source: try cells[3].decode(String.self),
                    state: try cells[4].decode(String.self), tenant: try cells[5].decode(String.self),
                    startedAt: try cells[6].decode(Int64.self), endedAt: try cells[7].decode(Int64?.self),
                    duration: try cells[8].decode(Double?.self), srcAddress: try cells[9].decode(String?.self),
                    callIDs: try cells[10].decode(String.self), sessionIDs: try cells[11].decode(String.self),
                    groupID: try cells[12].decode(String?.self), vendorIDs: try cells[13].decode(String.self),
                    participants: try cells[14].decode(String.self), files: try cells[15].decode(String.self),
                    record: try cells[16].decode(String.self), decoder: decoder))
            }
            return entries
        }
    }

    public func recording(id: String, tenant: String?) async throws -> CatalogEntry? {
        var bindings = PostgresBindings()
        bindings.append(id)
        var sql = "SELECT \(CatalogSQL.recordingColumns) FROM recordings WHERE id = $1"
        if let tenant {
            bindings.append(tenant)
            sql += " AND tenant = $2"
        }
        return try await entries(PostgresQuery(unsafeSQL: sql, binds: bindings)).first
    }

    public func list(_ query: RecordingQuery) async throws -> RecordingPage {
        let statement = CatalogSQL.list(query, placeholder: Self.placeholder)
        let rows = try await entries(PostgresQuery(unsafeSQL: statement.sql, binds: Self.bindings(statement.values)))
        guard rows.count > query.limit else { return RecordingPage(items: rows, next: nil) }
        let items = Array(rows.prefix(query.limit))
        let last = items[items.count - 1]
        return RecordingPage(items: items, next: RecordingCursor(startedAtMicros: CatalogDate.micros(last.startedAt), id: last.id))
    }

    public func count() async throws -> Int {
        try await prepare()
        return try await timed {
            for try await count in try await self.client.query("SELECT count(*) FROM recordings", logger: self.logger).decode(Int64.self) {
                return Int(count)
            }
            return 0
        }
    }

    public func insertToken(_ token: APIToken) async throws {
        try await prepare()
        try await timed {
            try await self.client.query("INSERT INTO api_tokens (id, name, role, tenant, secret_hash, created_at) VALUES (\(token.id), \(token.name), \(token.role.rawValue), \(token.tenant), \(token.secretHash), \(CatalogDate.micros(token.createdAt)))", logger: self.logger)
        }
    }

    private func tokens(_ query: PostgresQuery) async throws -> [APIToken] {
        try await prepare()
        return try await timed {
            var tokens: [APIToken] = []
            for try await (id, name, role, tenant, hash, created) in try await self.client.query(query, logger: self.logger).decode((String, String, String, String?, String, Int64).self) {
                guard let role = APIRole(rawValue: role) else { continue }
                tokens.append(APIToken(id: id, name: name, role: role, tenant: tenant, secretHash: hash, createdAt: CatalogDate.date(micros: created)))
            }
            return tokens
        }
    }

    public func tokens() async throws -> [APIToken] {
        try await tokens("SELECT id, name, role, tenant, secret_hash, created_at FROM api_tokens ORDER BY created_at, id")
    }

    public func token(secretHash: String) async throws -> APIToken? {
        try await tokens("SELECT id, name, role, tenant, secret_hash, created_at FROM api_tokens WHERE secret_hash = \(secretHash)").first
    }

    public func deleteToken(id: String) async throws -> Bool {
        try await prepare()
        return try await timed {
            for try await _ in try await self.client.query("DELETE FROM api_tokens WHERE id = \(id) RETURNING id", logger: self.logger) {
                return true
            }
            return false
        }
    }

    public func appendAudit(_ entry: AuditEntry) async throws {
        try await prepare()
        try await timed {
            try await self.client.query("INSERT INTO audit_log (at, token_id, token_name, action, recording_id, remote) VALUES (\(CatalogDate.micros(entry.at)), \(entry.tokenID), \(entry.tokenName), \(entry.action), \(entry.recordingID), \(entry.remote))", logger: self.logger)
        }
    }

    public func audit(limit: Int, before: Int64?) async throws -> [AuditEntry] {
        try await prepare()
        return try await timed {
            var entries: [AuditEntry] = []
            let rows = try await self.client.query("SELECT seq, at, token_id, token_name, action, recording_id, remote FROM audit_log WHERE seq < \(before ?? Int64.max) ORDER BY seq DESC LIMIT \(Int64(limit))", logger: self.logger)
            for try await (seq, at, tokenID, tokenName, action, recordingID, remote) in rows.decode((Int64, Int64, String, String, String, String?, String?).self) {
                entries.append(AuditEntry(sequence: seq, at: CatalogDate.date(micros: at), tokenID: tokenID, tokenName: tokenName,
                                          action: action, recordingID: recordingID, remote: remote))
            }
            return entries
        }
    }

    public func ping() async throws {
        try await prepare()
        try await timed {
            try await self.client.query("SELECT 1", logger: self.logger)
        }
    }

    public func close() async {}

    /// The job leadership of nodes sharing this database: a session advisory lock.
    public func makeLeadership() throws -> PostgresLeadership {
        let tls: PostgresConnection.Configuration.TLS
        switch connection.sslMode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        default: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(host: connection.host, port: connection.port, username: connection.user,
                                                             password: connection.password, database: connection.database, tls: tls)
        configuration.options.connectTimeout = .seconds(3)
        return PostgresLeadership(configuration: configuration, logger: logger)
    }

    public func setLegalHold(id: String, _ held: Bool) async throws -> Bool {
        try await prepare()
        let value: Int16 = held ? 1 : 0
        return try await timed {
            for try await _ in try await self.client.query("UPDATE recordings SET legal_hold = \(value) WHERE id = \(id) RETURNING id", logger: self.logger) {
                return true
            }
            return false
        }
    }

    public func isOnLegalHold(id: String) async throws -> Bool {
        try await prepare()
        return try await timed {
            for try await held in try await self.client.query("SELECT legal_hold FROM recordings WHERE id = \(id)", logger: self.logger).decode(Int16.self) {
                return held != 0
            }
            return false
        }
    }

    public func expiredRecordings(startedBefore cutoff: Date, tenant: String?, exceptTenants: [String], limit: Int) async throws -> [CatalogEntry] {
        let statement = CatalogSQL.expired(cutoffMicros: CatalogDate.micros(cutoff), tenant: tenant, exceptTenants: exceptTenants,
                                           limit: limit, placeholder: Self.placeholder)
        return try await entries(PostgresQuery(unsafeSQL: statement.sql, binds: Self.bindings(statement.values)))
    }

    public func deleteRecording(id: String) async throws {
        try await prepare()
        let logger = self.logger
        try await timed {
            try await self.client.withTransaction(logger: logger) { connection in
                try await connection.query("DELETE FROM recording_keys WHERE recording_id = \(id)", logger: logger)
                try await connection.query("DELETE FROM recordings WHERE id = \(id)", logger: logger)
            }
        }
    }

    public func exportCandidates(limit: Int) async throws -> [CatalogEntry] {
        let statement = CatalogSQL.exportCandidates(limit: limit, placeholder: Self.placeholder)
        return try await entries(PostgresQuery(unsafeSQL: statement.sql, binds: Self.bindings(statement.values)))
    }

    public func markExported(id: String) async throws {
        try await prepare()
        try await timed {
            try await self.client.query("UPDATE recordings SET exported = 1 WHERE id = \(id)", logger: self.logger)
        }
    }
}
