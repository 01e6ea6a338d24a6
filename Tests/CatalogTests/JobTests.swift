import Catalog
import CatalogPostgres
import Cluster
import Foundation
import Logging
import SIPTestSupport
import Testing

extension CatalogSuites {
/// The maintenance jobs against each catalog, and their leadership on a real PostgreSQL.
@Suite("Maintenance jobs", .serialized)
struct JobTests {
    let base = Date(timeIntervalSince1970: 1_790_000_000)
    static let day = 86_400.0

    /// An entry whose file is a real file in `archive`.
    func archivedEntry(_ id: String, tenant: String, ageDays: Double, now: Date, archive: URL) throws -> CatalogEntry {
        var entry = try entry(journalLine(id: id, startedAt: now.addingTimeInterval(-ageDays * Self.day), tenant: tenant))
        let file = archive.appendingPathComponent("\(id).wav")
        try Data("RIFF-\(id)".utf8).write(to: file)
        entry.files[0].path = file.path
        return entry
    }

    @Test("retention purges expired recordings per tenant (files, rows, audit), spares legal holds; export copies the rest once with sidecars",
          arguments: CatalogKind.allCases)
    func retentionAndExport(kind: CatalogKind) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("jobs-\(UUID().uuidString)")
        let archive = root.appendingPathComponent("archive")
        let exportFolder = root.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: archive, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let now = base.addingTimeInterval(400 * Self.day)
        let entries = [
            try archivedEntry("bank-old", tenant: "bank", ageDays: 100, now: now, archive: archive),
            try archivedEntry("bank-new", tenant: "bank", ageDays: 10, now: now, archive: archive),
            try archivedEntry("shop-old", tenant: "shop", ageDays: 400, now: now, archive: archive),
            try archivedEntry("shop-mid", tenant: "shop", ageDays: 200, now: now, archive: archive),
            try archivedEntry("held", tenant: "bank", ageDays: 300, now: now, archive: archive),
        ]
        try await withCatalog(kind) { catalog in
            try await catalog.apply(entries, positions: [])
            _ = try await catalog.setLegalHold(id: "held", true)
            var settings = JobSettings()
            settings.retention = RetentionPolicy(defaultDays: 365, tenantDays: ["bank": 30])
            settings.exportFolder = exportFolder
            settings.audioRoots = [archive]
            let runner = JobRunner(catalog: catalog, leadership: SingleNodeLeadership(), settings: settings, logger: Logger(label: "jobs"))

            #expect(try await runner.purgeExpired(now: now) == 2)
            for id in ["bank-old", "shop-old"] {
                #expect(try await catalog.recording(id: id, tenant: nil) == nil)
                #expect(!FileManager.default.fileExists(atPath: archive.appendingPathComponent("\(id).wav").path))
            }
            for id in ["bank-new", "shop-mid", "held"] {
                #expect(try await catalog.recording(id: id, tenant: nil) != nil)
                #expect(FileManager.default.fileExists(atPath: archive.appendingPathComponent("\(id).wav").path))
            }
            let audit = try await catalog.audit(limit: 10, before: nil)
            #expect(Set(audit.filter { $0.action == "purge" }.compactMap(\.recordingID)) == ["bank-old", "shop-old"])
            #expect(try await runner.purgeExpired(now: now) == 0)

            #expect(try await runner.exportFinished() == 3)
            for entry in entries where ["bank-new", "shop-mid", "held"].contains(entry.id) {
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = TimeZone(identifier: "UTC")!
                let day = calendar.dateComponents([.year, .month, .day], from: entry.startedAt)
                let folder = exportFolder.appendingPathComponent(String(format: "%04d/%02d/%02d", day.year!, day.month!, day.day!))
                #expect(FileManager.default.contents(atPath: folder.appendingPathComponent("\(entry.id).wav").path) == Data("RIFF-\(entry.id)".utf8))
                let sidecar = try #require(FileManager.default.contents(atPath: folder.appendingPathComponent("\(entry.id).json").path))
                #expect(try CatalogEntry(journalLine: [UInt8](sidecar)).id == entry.id)
            }
            #expect(try await runner.exportFinished() == 0)
            #expect(runner.currentStatistics.purged == 2)
            #expect(runner.currentStatistics.exported == 3)
            // A recording whose file is not here does not stop the others; it waits for the next run.
            var missing = try entry(journalLine(id: "elsewhere", startedAt: now.addingTimeInterval(-Self.day), tenant: "shop"))
            missing.files[0].path = archive.appendingPathComponent("not-here.wav").path
            var present = try archivedEntry("present", tenant: "shop", ageDays: 0.5, now: now, archive: archive)
            present.files[0].path = archive.appendingPathComponent("present.wav").path
            try await catalog.apply([missing, present], positions: [])
            #expect(try await runner.exportFinished() == 1)
            #expect(try await catalog.exportCandidates(limit: 10).map(\.id) == ["elsewhere"])
            #expect(runner.currentStatistics.failures == 1)
        }
    }

    @Test("job leadership on PostgreSQL: one node leads; when its session dies another takes over at its next check")
    func postgresLeadership() async throws {
        let url = try TestPostgres.freshDatabase()
        var logger = Logger(label: "leadership")
        logger.logLevel = .warning
        let nodeA = try PostgresCatalog(url: url, logger: logger).makeLeadership()
        let nodeB = try PostgresCatalog(url: url, logger: logger).makeLeadership()
        #expect(await nodeA.check())
        #expect(await !nodeB.check())
        #expect(await nodeA.check())
        #expect(await !nodeB.check())
        // Node A's session dies (its host or process went away): the server frees the lock.
        try TestPostgres.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = \(PostgresLeadership.lockKey) AND granted")
        #expect(await nodeB.check())
        #expect(await !nodeA.check())
        #expect(await !nodeA.check())
        // B steps down at shutdown: A leads again.
        await nodeB.release()
        #expect(await nodeA.check())
        await nodeA.release()
    }
}
}
