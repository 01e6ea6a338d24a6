import Catalog
import Foundation
import Testing

/// The catalog suites share one PostgreSQL server, which one test stops and restarts: they
/// run one at a time.
@Suite("Catalog", .serialized)
enum CatalogSuites {}

extension CatalogSuites {
/// The same expectations for every catalog: SQLite and a real PostgreSQL.
@Suite("RecordingCatalog conformance", .serialized)
struct RecordingCatalogConformanceTests {
    let base = Date(timeIntervalSince1970: 1_790_000_000)

    @Test("a recording is stored whole and read back by id, within its tenant only", arguments: CatalogKind.allCases)
    func roundTrip(kind: CatalogKind) async throws {
        let line = journalLine(id: "rec-1", startedAt: base, tenant: "bank", ucid: "00FA080018803B69")
        let stored = try entry(line)
        try await withCatalog(kind) { catalog in
            try await catalog.apply([stored], positions: [])
            let read = try #require(try await catalog.recording(id: "rec-1", tenant: nil))
            #expect(read == stored)
            #expect(read.recordJSON.contains(#""unindexed":"kept""#))
            #expect(read.files.first?.sha256 == "ab12")
            #expect(read.vendorIDs == ["00FA080018803B69"])
            #expect(try await catalog.recording(id: "rec-1", tenant: "bank") != nil)
            #expect(try await catalog.recording(id: "rec-1", tenant: "other") == nil)
            #expect(try await catalog.recording(id: "rec-2", tenant: nil) == nil)
            #expect(try await catalog.count() == 1)
        }
    }

    @Test("retention: expired finished recordings by tenant, legal hold exempt, deletion; export candidates once", arguments: CatalogKind.allCases)
    func retentionAndExport(kind: CatalogKind) async throws {
        let entries = [
            try entry(journalLine(id: "old-bank", startedAt: base, tenant: "bank")),
            try entry(journalLine(id: "old-held", startedAt: base.addingTimeInterval(1), tenant: "bank")),
            try entry(journalLine(id: "old-shop", startedAt: base.addingTimeInterval(2), tenant: "shop")),
            try entry(journalLine(id: "old-live", startedAt: base.addingTimeInterval(3), state: "active", tenant: "bank", file: false)),
            try entry(journalLine(id: "new-bank", startedAt: base.addingTimeInterval(1000), tenant: "bank")),
        ]
        try await withCatalog(kind) { catalog in
            try await catalog.apply(entries, positions: [])
            #expect(try await catalog.setLegalHold(id: "old-held", true))
            #expect(try await catalog.isOnLegalHold(id: "old-held"))
            #expect(try await !catalog.setLegalHold(id: "nope", true))
            let cutoff = base.addingTimeInterval(500)
            #expect(try await catalog.expiredRecordings(startedBefore: cutoff, tenant: nil, exceptTenants: [], limit: 10).map(\.id)
                    == ["old-bank", "old-shop"])
            #expect(try await catalog.expiredRecordings(startedBefore: cutoff, tenant: "bank", exceptTenants: [], limit: 10).map(\.id) == ["old-bank"])
            #expect(try await catalog.expiredRecordings(startedBefore: cutoff, tenant: nil, exceptTenants: ["bank"], limit: 10).map(\.id) == ["old-shop"])
            #expect(try await catalog.expiredRecordings(startedBefore: cutoff, tenant: nil, exceptTenants: [], limit: 1).map(\.id) == ["old-bank"])
            // The ingest of a later line keeps the hold.
            try await catalog.apply([try entry(journalLine(id: "old-held", startedAt: base.addingTimeInterval(1), tenant: "bank"))], positions: [])
            #expect(try await catalog.isOnLegalHold(id: "old-held"))
            _ = try await catalog.setLegalHold(id: "old-held", false)
            #expect(try await catalog.expiredRecordings(startedBefore: cutoff, tenant: "bank", exceptTenants: [], limit: 10).map(\.id)
                    == ["old-bank", "old-held"])

            try await catalog.deleteRecording(id: "old-bank")
            #expect(try await catalog.recording(id: "old-bank", tenant: nil) == nil)
            #expect(try await catalog.list(RecordingQuery(callID: entries[0].callIDs.first)).items.isEmpty)
            #expect(try await catalog.count() == 4)

            #expect(try await catalog.exportCandidates(limit: 10).map(\.id) == ["old-held", "old-shop", "new-bank"])
            try await catalog.markExported(id: "old-shop")
            #expect(try await catalog.exportCandidates(limit: 10).map(\.id) == ["old-held", "new-bank"])
        }
    }

    @Test("a later state replaces the earlier one, search keys included", arguments: CatalogKind.allCases)
    func upsert(kind: CatalogKind) async throws {
        let first = try entry(journalLine(id: "rec-1", startedAt: base, state: "active", caller: "sip:+15550000001@example.com", file: false))
        let second = try entry(journalLine(id: "rec-1", startedAt: base, state: "completed", caller: "sip:+15559999999@example.com"))
        try await withCatalog(kind) { catalog in
            try await catalog.apply([first], positions: [])
            try await catalog.apply([second], positions: [])
            let read = try #require(try await catalog.recording(id: "rec-1", tenant: nil))
            #expect(read.state == "completed")
            #expect(read.files.count == 1)
            #expect(try await catalog.list(RecordingQuery(participant: "+1555000")).items.isEmpty)
            #expect(try await catalog.list(RecordingQuery(participant: "+1555999")).items.map(\.id) == ["rec-1"])
            #expect(try await catalog.count() == 1)
        }
    }

    @Test("lists are newest first and pages follow the cursor without gaps or repeats", arguments: CatalogKind.allCases)
    func pagination(kind: CatalogKind) async throws {
        // 25 recordings, two of them starting at the same microsecond (the id breaks the tie).
        var entries: [CatalogEntry] = []
        for index in 0..<25 {
            let start = base.addingTimeInterval(Double(index == 24 ? 23 : index))
            entries.append(try entry(journalLine(id: String(format: "rec-%02d", index), startedAt: start)))
        }
        let all = entries
        try await withCatalog(kind) { catalog in
            try await catalog.apply(all, positions: [])
            var seen: [String] = []
            var cursor: RecordingCursor?
            var pages = 0
            repeat {
                let page = try await catalog.list(RecordingQuery(limit: 10, after: cursor))
                seen += page.items.map(\.id)
                // A list row has what the list shows, not the whole record.
                #expect(page.items.allSatisfy { $0.recordJSON.isEmpty && !$0.participants.isEmpty && !$0.files.isEmpty })
                cursor = page.next
                pages += 1
                if let token = cursor?.token { cursor = RecordingCursor(token: token) }
            } while cursor != nil && pages < 10
            #expect(pages == 3)
            #expect(seen.count == 25)
            #expect(Set(seen).count == 25)
            #expect(Array(seen.prefix(3)) == ["rec-24", "rec-23", "rec-22"])
            #expect(seen.last == "rec-00")
        }
    }

    @Test("filters: participant prefix, Call-ID, vendor id, time range, state, source, tenant", arguments: CatalogKind.allCases)
    func filters(kind: CatalogKind) async throws {
        let entries = try [
            entry(journalLine(id: "a", startedAt: base, tenant: "bank", callID: "abc@example.com", caller: "sip:+15551110001@example.com", callerName: "Alice Martin", ucid: "00FA0800AAAA")),
            entry(journalLine(id: "b", startedAt: base.addingTimeInterval(60), state: "recovered", source: "cucm-bib", caller: "sip:+15552220002@example.com", callerName: "Bob Stone")),
            entry(journalLine(id: "c", startedAt: base.addingTimeInterval(120), state: "active", caller: "tel:+15551119999", callerName: nil, file: false)),
        ]
        try await withCatalog(kind) { catalog in
            try await catalog.apply(entries, positions: [])
            func ids(_ query: RecordingQuery) async throws -> [String] { try await catalog.list(query).items.map(\.id) }
            #expect(try await ids(RecordingQuery(participant: "+1555111")) == ["c", "a"])
            #expect(try await ids(RecordingQuery(participant: "1555111")) == ["c", "a"])
            #expect(try await ids(RecordingQuery(participant: "alice")) == ["a"])
            #expect(try await ids(RecordingQuery(participant: "BOB S")) == ["b"])
            #expect(try await ids(RecordingQuery(participant: "sip:+1555222")) == ["b"])
            #expect(try await ids(RecordingQuery(participant: "+1555765")) == ["c", "b", "a"])
            #expect(try await ids(RecordingQuery(participant: "nobody")) == [])
            #expect(try await ids(RecordingQuery(callID: "abc@example.com")) == ["a"])
            #expect(try await ids(RecordingQuery(callID: "abc")) == [])
            #expect(try await ids(RecordingQuery(vendorID: "00FA0800AAAA")) == ["a"])
            #expect(try await ids(RecordingQuery(from: base.addingTimeInterval(60))) == ["c", "b"])
            #expect(try await ids(RecordingQuery(from: base, to: base.addingTimeInterval(60))) == ["a"])
            #expect(try await ids(RecordingQuery(state: "recovered")) == ["b"])
            #expect(try await ids(RecordingQuery(source: "cucm-bib")) == ["b"])
            #expect(try await ids(RecordingQuery(tenant: "bank")) == ["a"])
            #expect(try await ids(RecordingQuery(tenant: "default")) == ["c", "b"])
            #expect(try await ids(RecordingQuery(participant: "+1555", tenant: "default", state: "active")) == ["c"])
        }
    }

    @Test("journal positions are stored with the batch they end", arguments: CatalogKind.allCases)
    func positions(kind: CatalogKind) async throws {
        try await withCatalog(kind) { catalog in
            #expect(try await catalog.journalPositions().isEmpty)
            try await catalog.apply([], positions: [JournalPosition(path: "node/2026/11/30/records.jsonl", offset: 120)])
            try await catalog.apply([try entry(journalLine(id: "x", startedAt: base))],
                                    positions: [JournalPosition(path: "node/2026/11/30/records.jsonl", offset: 4096)])
            #expect(try await catalog.journalPositions() == ["node/2026/11/30/records.jsonl": 4096])
        }
    }

    @Test("tokens are found by the hash of their secret and can be revoked", arguments: CatalogKind.allCases)
    func tokens(kind: CatalogKind) async throws {
        let token = APIToken(id: "tok_1", name: "ops", role: .auditor, tenant: "bank", secretHash: "h1", createdAt: base)
        try await withCatalog(kind) { catalog in
            try await catalog.insertToken(token)
            try await catalog.insertToken(APIToken(id: "tok_2", name: "sup", role: .supervisor, tenant: nil, secretHash: "h2", createdAt: base.addingTimeInterval(1)))
            #expect(try await catalog.token(secretHash: "h1") == token)
            #expect(try await catalog.tokens().map(\.id) == ["tok_1", "tok_2"])
            #expect(try await catalog.deleteToken(id: "tok_1"))
            #expect(!(try await catalog.deleteToken(id: "tok_1")))
            #expect(try await catalog.token(secretHash: "h1") == nil)
        }
    }

    @Test("the audit log is append-only, newest first, paged by sequence", arguments: CatalogKind.allCases)
    func audit(kind: CatalogKind) async throws {
        try await withCatalog(kind) { catalog in
            for index in 0..<5 {
                try await catalog.appendAudit(AuditEntry(at: base.addingTimeInterval(Double(index)), tokenID: "tok_1", tokenName: "ops",
                                                         action: "audio", recordingID: "rec-\(index)", remote: "192.0.2.1"))
            }
            let first = try await catalog.audit(limit: 3, before: nil)
            #expect(first.map(\.recordingID) == ["rec-4", "rec-3", "rec-2"])
            let second = try await catalog.audit(limit: 3, before: first.last?.sequence)
            #expect(second.map(\.recordingID) == ["rec-1", "rec-0"])
        }
    }
}
}
