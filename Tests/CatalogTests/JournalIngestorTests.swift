import Catalog
import CatalogPostgres
import Foundation
import Logging
import NIOConcurrencyHelpers
import SIPTestSupport
import Testing

/// A journal folder as the record writer lays it out, written by the test.
struct TestJournal {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)")
    let day = "2026/11/30/records.jsonl"

    func append(_ lines: [String], to path: String? = nil, newline: Bool = true) throws {
        let url = root.appendingPathComponent(path ?? day)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: url.path) { FileManager.default.createFile(atPath: url.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((lines.joined(separator: "\n") + (newline ? "\n" : "")).utf8))
    }

    func size(_ path: String? = nil) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: root.appendingPathComponent(path ?? day).path)[.size]) as? NSNumber)?.int64Value ?? 0
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

/// A catalog that refuses writes while `down` (a database outage), counting what it applied.
final class FlakyCatalog: RecordingCatalog, Sendable {
    let inner: any RecordingCatalog
    let down = NIOLockedValueBox(false)
    let applied = NIOLockedValueBox<[String]>([])

    init(_ inner: any RecordingCatalog) { self.inner = inner }

    func apply(_ entries: [CatalogEntry], positions: [JournalPosition]) async throws {
        if down.withLockedValue({ $0 }) { throw CatalogError(.unavailable, "test outage") }
        try await inner.apply(entries, positions: positions)
        applied.withLockedValue { $0 += entries.map(\.id) }
    }
    func journalPositions() async throws -> [String: Int64] {
        if down.withLockedValue({ $0 }) { throw CatalogError(.unavailable, "test outage") }
        return try await inner.journalPositions()
    }
    func recording(id: String, tenant: String?) async throws -> CatalogEntry? { try await inner.recording(id: id, tenant: tenant) }
    func list(_ query: RecordingQuery) async throws -> RecordingPage { try await inner.list(query) }
    func count() async throws -> Int { try await inner.count() }
    func insertToken(_ token: APIToken) async throws { try await inner.insertToken(token) }
    func tokens() async throws -> [APIToken] { try await inner.tokens() }
    func token(secretHash: String) async throws -> APIToken? { try await inner.token(secretHash: secretHash) }
    func deleteToken(id: String) async throws -> Bool { try await inner.deleteToken(id: id) }
    func appendAudit(_ entry: AuditEntry) async throws { try await inner.appendAudit(entry) }
    func audit(limit: Int, before: Int64?) async throws -> [AuditEntry] { try await inner.audit(limit: limit, before: before) }
    func ping() async throws { try await inner.ping() }
    func close() async { await inner.close() }
    func setLegalHold(id: String, _ held: Bool) async throws -> Bool { try await inner.setLegalHold(id: id, held) }
    func isOnLegalHold(id: String) async throws -> Bool { try await inner.isOnLegalHold(id: id) }
    func expiredRecordings(startedBefore cutoff: Date, tenant: String?, exceptTenants: [String], limit: Int) async throws -> [CatalogEntry] {
        try await inner.expiredRecordings(startedBefore: cutoff, tenant: tenant, exceptTenants: exceptTenants, limit: limit)
    }
    func deleteRecording(id: String) async throws { try await inner.deleteRecording(id: id) }
    func exportCandidates(limit: Int) async throws -> [CatalogEntry] { try await inner.exportCandidates(limit: limit) }
    func markExported(id: String) async throws { try await inner.markExported(id: id) }
}

func quietLogger() -> Logger {
    var logger = Logger(label: "ingest-test")
    logger.logLevel = .critical
    return logger
}

/// Runs the ingestor's loop around `body`, then ends it.
func withIngestor<T>(_ ingestor: JournalIngestor, _ body: () async throws -> T) async rethrows -> T {
    let task = Task { await ingestor.run() }
    defer {
        ingestor.finish()
        task.cancel()
    }
    return try await body()
}

extension CatalogSuites {
@Suite("Journal ingest into the catalog", .serialized)
struct JournalIngestorTests {
    let base = Date(timeIntervalSince1970: 1_790_000_000)

    @Test("every complete line is applied once, the last state of a recording wins, a torn line is skipped")
    func ingest() async throws {
        let journal = TestJournal()
        defer { journal.remove() }
        try journal.append([
            journalLine(id: "r1", startedAt: base, state: "active", file: false),
            journalLine(id: "r2", startedAt: base.addingTimeInterval(1)),
            "{\"recordingID\":\"r9\",\"interac",  // cut short by a crash, ended by the writer's newline
            journalLine(id: "r1", startedAt: base, state: "completed"),
        ])
        // A line still being written (no newline yet) waits for the next pass.
        try journal.append([journalLine(id: "r3", startedAt: base.addingTimeInterval(2))], newline: false)
        try await withCatalog(.sqlite) { inner in
            let catalog = FlakyCatalog(inner)
            let ingestor = JournalIngestor(recordsFolder: journal.root, node: "n1", catalog: catalog, logger: quietLogger(), maxBatchBytes: 900)
            try await withIngestor(ingestor) {
                var stats = await ingestor.catchUp()
                #expect(!stats.failing)
                #expect(stats.linesApplied == 3)
                #expect(stats.linesSkipped == 1)
                #expect(stats.backlogBytes > 0)
                #expect(try await catalog.count() == 2)
                #expect(try await catalog.recording(id: "r1", tenant: nil)?.state == "completed")

                try journal.append(["", journalLine(id: "r4", startedAt: base.addingTimeInterval(3))])
                ingestor.noteAppended([journal.day])
                stats = await ingestor.catchUp()
                #expect(stats.linesApplied == 5)
                #expect(stats.backlogBytes == 0)
                #expect(try await catalog.count() == 4)
                #expect(try await catalog.journalPositions() == ["n1/\(journal.day)": journal.size()])
                // Each recording state went to the catalog exactly once.
                let applied = catalog.applied.withLockedValue { $0 }
                #expect(applied.filter { $0 == "r3" }.count == 1)
                #expect(applied.filter { $0 == "r4" }.count == 1)
            }
        }
    }

    @Test("a restarted ingestor continues from the positions in the catalog, and reads nothing twice")
    func resume() async throws {
        let journal = TestJournal()
        defer { journal.remove() }
        try journal.append((0..<20).map { journalLine(id: "r\($0)", startedAt: base.addingTimeInterval(Double($0))) })
        try await withCatalog(.sqlite) { inner in
            let catalog = FlakyCatalog(inner)
            let first = JournalIngestor(recordsFolder: journal.root, node: "n1", catalog: catalog, logger: quietLogger())
            _ = await withIngestor(first) { await first.catchUp() }
            try journal.append((20..<30).map { journalLine(id: "r\($0)", startedAt: base.addingTimeInterval(Double($0))) })
            try journal.append([journalLine(id: "other", startedAt: base)], to: "2026/12/01/records.jsonl")
            let second = JournalIngestor(recordsFolder: journal.root, node: "n1", catalog: catalog, logger: quietLogger())
            let stats = await withIngestor(second) { await second.catchUp() }
            #expect(stats.linesApplied == 11)
            #expect(try await catalog.count() == 31)
            #expect(catalog.applied.withLockedValue { $0 }.count == 31)
        }
    }

    @Test("while the catalog is down the journal keeps everything; when it returns all of it is applied once")
    func outage() async throws {
        let journal = TestJournal()
        defer { journal.remove() }
        try await withCatalog(.sqlite) { inner in
            let catalog = FlakyCatalog(inner)
            let ingestor = JournalIngestor(recordsFolder: journal.root, node: "n1", catalog: catalog, logger: quietLogger(),
                                           retryDelays: [.milliseconds(20)])
            try await withIngestor(ingestor) {
                try journal.append([journalLine(id: "before", startedAt: base)])
                _ = await ingestor.catchUp()
                catalog.down.withLockedValue { $0 = true }
                for index in 0..<50 {
                    try journal.append([journalLine(id: "during-\(index)", startedAt: base.addingTimeInterval(Double(index)))])
                    ingestor.noteAppended([journal.day])
                }
                var stats = await ingestor.catchUp()
                #expect(stats.failing)
                #expect(stats.backlogBytes > 0)
                #expect(try await inner.count() == 1)
                catalog.down.withLockedValue { $0 = false }
                stats = await ingestor.catchUp()
                #expect(!stats.failing)
                #expect(stats.backlogBytes == 0)
                #expect(try await catalog.count() == 51)
                let applied = catalog.applied.withLockedValue { $0 }
                #expect(applied.count == 51)
                #expect(Set(applied).count == 51)
            }
        }
    }

    @Test("finish ends the loop even while the catalog is failing (a server stopping during an outage exits)")
    func finishWhileFailing() async throws {
        let journal = TestJournal()
        defer { journal.remove() }
        try journal.append([journalLine(id: "r1", startedAt: base)])
        try await withCatalog(.sqlite) { inner in
            let catalog = FlakyCatalog(inner)
            catalog.down.withLockedValue { $0 = true }
            let ingestor = JournalIngestor(recordsFolder: journal.root, node: "n1", catalog: catalog, logger: quietLogger(),
                                           retryDelays: [.seconds(3600)])
            let task = Task { await ingestor.run() }
            #expect(await ingestor.catchUp().failing)
            ingestor.finish()
            await task.value
            let count = try await inner.count()
            #expect(count == 0)
        }
    }

    @Test("a real PostgreSQL stopped mid-ingest: nothing is lost, nothing applied twice")
    func postgresOutage() async throws {
        let journal = TestJournal()
        defer { journal.remove() }
        let url = try TestPostgres.freshDatabase()
        let catalog = try PostgresCatalog(url: url, logger: quietLogger(), queryTimeout: .seconds(2))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await catalog.run() }
            defer { group.cancelAll() }
            let ingestor = JournalIngestor(recordsFolder: journal.root, node: "n1", catalog: catalog, logger: quietLogger(),
                                           retryDelays: [.milliseconds(100)])
            try await withIngestor(ingestor) {
                try journal.append((0..<10).map { journalLine(id: "a\($0)", startedAt: base.addingTimeInterval(Double($0))) })
                #expect(await ingestor.catchUp().linesApplied == 10)
                try TestPostgres.stop()
                do {
                    try journal.append((0..<40).map { journalLine(id: "b\($0)", startedAt: base.addingTimeInterval(Double(100 + $0))) })
                    ingestor.noteAppended([journal.day])
                    let stats = await ingestor.catchUp()
                    #expect(stats.failing)
                }
                try TestPostgres.restart()
                let stats = await ingestor.catchUp()
                #expect(!stats.failing)
                #expect(stats.linesApplied == 50)
                #expect(try await catalog.count() == 50)
                #expect(try await catalog.journalPositions() == ["n1/\(journal.day)": journal.size()])
            }
        }
    }
}
}
