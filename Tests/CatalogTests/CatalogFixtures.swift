import Catalog
import CatalogPostgres
import CatalogSQLite
import Foundation
import Logging
import SIPTestSupport
import Testing

enum CatalogKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// Runs `body` with an empty catalog of `kind` (a new SQLite file, or a new database on the
/// test PostgreSQL server with its pool running).
func withCatalog<T: Sendable>(_ kind: CatalogKind, _ body: @Sendable (any RecordingCatalog) async throws -> T) async throws -> T {
    var logger = Logger(label: "catalog-test")
    logger.logLevel = .warning
    switch kind {
    case .sqlite:
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let catalog = try SQLiteCatalog(path: folder.appendingPathComponent("catalog.sqlite").path)
        let result = try await body(catalog)
        await catalog.close()
        return result
    case .postgres:
        let url = try TestPostgres.freshDatabase()
        let catalog = try PostgresCatalog(url: url, logger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await catalog.run()
                return nil
            }
            defer { group.cancelAll() }
            return try await body(catalog)
        }
    }
}

/// One journal line as siprecd's record writer writes it (the fields the catalog reads, and
/// one it does not, to show it is kept).
func journalLine(id: String, startedAt: Date, state: String = "completed", source: String = "siprec",
                 tenant: String? = nil, callID: String? = nil, caller: String = "sip:+15551230001@example.com",
                 callerName: String? = "Alice Example", callee: String = "sip:+15557650002@example.com",
                 ucid: String? = nil, file: Bool = true) -> String {
    func quoted(_ text: String?) -> String {
        guard let text else { return "null" }
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
    let started = CatalogDate.format(startedAt)
    let ended = CatalogDate.format(startedAt.addingTimeInterval(30))
    let fileJSON = file
        ? #"{"format":"wav","sampleRate":8000,"channels":2,"channelRoles":["caller","callee"],"location":"archive","path":"archive/\#(id).wav","bytes":480044,"sha256":"ab12","audioSeconds":30}"#
        : "null"
    return #"{"recordingID":"\#(id)","interactionID":"\#(id)","segment":1,"source":"\#(source)","state":"\#(state)","#
        + (tenant.map { #""tenant":"\#($0)","# } ?? "")
        + #""startedAt":"\#(started)","endedAt":"\#(ended)","durationSeconds":30,"dialogs":[{"callID":\#(quoted(callID ?? "call-\(id)@example.com")),"source":"192.0.2.10:5060","transport":"udp","startedAt":"\#(started)"}],"sessionIDs":["sess-\#(id)"],"vendorIDs":{"ucid":\#(quoted(ucid)),"extra":{}},"participants":[{"aor":\#(quoted(caller)),"name":\#(quoted(callerName)),"role":"caller","sends":["1"],"receives":["2"],"associated":true},{"aor":\#(quoted(callee)),"role":"callee","sends":["2"],"receives":["1"],"associated":true}],"streams":[],"metadataVersions":[],"metadataVersionsDropped":0,"changes":[],"file":\#(fileJSON),"files":[],"dtmf":[],"problems":[],"unindexed":"kept"}"#
}

func entry(_ line: String) throws -> CatalogEntry {
    try CatalogEntry(journalLine: Array(line.utf8))
}
