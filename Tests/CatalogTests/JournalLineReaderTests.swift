import Foundation
import Testing
@testable import Catalog

@Suite("Journal lines read without JSONDecoder")
struct JournalLineReaderTests {
    static let base = Date(timeIntervalSince1970: 1_796_083_200)

    /// Lines as the record writer writes them, and harder ones: escapes, surrogate pairs,
    /// exponents, nulls, Built-in-Bridge ids, per-stream files, a replicated origin.
    static let accepted: [String] = [
        journalLine(id: "plain", startedAt: base),
        journalLine(id: "active", startedAt: base, state: "active", tenant: "bank", callID: nil, callerName: nil, ucid: "00001002161566304412", file: false),
        journalLine(id: "quotes", startedAt: base, callID: #"we"ird\call@example.com"#, callerName: "Zoë \"Z\" O'Brien \\ 日本"),
        #"{"recordingID":"018f3a2b-0000-7000-8000-000000000001","interactionID":"i-1","segment":2,"source":"cucm-bib","state":"completed","tenant":"t","startedAt":"2026-12-01T00:00:00.250Z","endedAt":"2026-12-01T00:01:00Z","durationSeconds":5.9750000000000005e1,"dialogs":[{"callID":"a@example.com","source":"","transport":"tcp"},{"callID":"b@example.com","source":"192.0.2.20:5061"},{"callID":"a@example.com","source":"x"}],"sessionIDs":[],"groupID":"urn:uuid:8a9b0c1d-2e3f-4051-a627-38495a6b7c8d","vendorIDs":{"ucid":"","ucidRaw":"00FA080018","ciscoGuid":"A1B2C3D4-1234","extTrackingID":null,"sessionID":"s-1","extra":{"z":"zz","a":"aa","dup":"00FA080018"}},"builtInBridge":{"refci":"22","farEndRefci":"23","farEndGUID":"A1B2C3D4-1234"},"participants":[{"aor":"tel:+15550100","name":"\ud83d\ude00 \u00e9\t\/","role":null},{"role":"callee"}],"file":null,"files":[{"channel":1,"format":"flac","sampleRate":8000,"channels":1,"channelRoles":["caller"],"location":"spool","path":"/var/spool/x-1.flac","bytes":0,"sha256":null,"audioSeconds":0},{"channel":2,"format":"flac","sampleRate":8000,"channels":1,"channelRoles":[],"location":"archive","path":"/a/x-2.flac","bytes":12345678901,"audioSeconds":-0.0}],"origin":"node-b","streams":[{"id":"m0","mline":0,"quality":{"jitterMs":1.25e-2,"ok":true,"late":null}}]}"#,
        #"  {"startedAt":"2026-12-01T00:00:00Z","recordingID":"minimal"}  "#,
    ]

    /// Lines the reader must not take on its own; the decoder decides (and refuses these).
    static let refused: [String] = [
        #"{"recordingID":5,"startedAt":"2026-12-01T00:00:00Z"}"#,
        #"{"recordingID":"x","startedAt":"yesterday"}"#,
        #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z","segment":"2"}"#,
        #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z","dialogs":[{"callID":"a"}]}"#,
        #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z","files":[{"format":"wav"}]}"#,
        #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z","vendorIDs":{"extra":{"a":1}}}"#,
        #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z""#,
        #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z"} trailing"#,
        #"{"recordingID":"\ud83d","startedAt":"2026-12-01T00:00:00Z"}"#,
        #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z","durationSeconds":01}"#,
        "",
        "[]",
    ]

    /// Invalid JSON in parts of a record the reader skips without building them: the reader
    /// refuses, and the line gets whatever JSONDecoder makes of it (it reads only what it decodes).
    static let invalidWhereSkipped: [String] = [
        #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z","streams":[tru]}"#,
        #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z","streams":["\x"]}"#,
        #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z","streams":[1,]}"#,
        #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z","changes":{"a" 1}}"#,
        #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z","problems":["\udc00"]}"#,
        "{\"recordingID\":\"x\",\"startedAt\":\"2026-12-01T00:00:00Z\",\"problems\":[\"\u{01}\"]}",
    ]

    @Test("the reader gives what JSONDecoder gives for every line it takes", arguments: accepted)
    func agreesWithDecoder(line: String) throws {
        let bytes = Array(line.utf8)
        let fast = try #require(bytes.withUnsafeBytes { JournalLineReader.entry($0, line: line) }, "the reader took the line")
        let reference = try CatalogEntry(decodingJournalLine: bytes, decoder: CatalogEntry.makeDecoder())
        #expect(fast == reference)
        #expect(fast.origin == reference.origin)
        #expect(try CatalogEntry(journalLine: bytes) == reference)
    }

    @Test("lines that are not whole records are left to JSONDecoder, which refuses them too", arguments: refused)
    func refusesWhatDecoderRefuses(line: String) {
        let bytes = Array(line.utf8)
        #expect(bytes.withUnsafeBytes { JournalLineReader.entry($0, line: line) } == nil)
        #expect(throws: CatalogEntry.ParseError.self) { try CatalogEntry(journalLine: bytes) }
    }

    @Test("string-array columns written by hand read back as the same strings")
    func stringColumns() throws {
        let strings = ["plain@example.com", #"q"uo\te"#, "tab\tnew\nline\rbell\u{07}", "é 日本 😀", "/slash/", ""]
        for value in [strings, [], ["one"]] {
            let text = CatalogSQL.json(strings: value)
            #expect(try JSONDecoder().decode([String].self, from: Data(text.utf8)) == value, "\(text)")
        }
    }

    @Test("invalid JSON where the reader skips: the reader refuses, JSONDecoder decides", arguments: invalidWhereSkipped)
    func skippedPartsChecked(line: String) throws {
        let bytes = Array(line.utf8)
        #expect(bytes.withUnsafeBytes { JournalLineReader.entry($0, line: line) } == nil)
        let reference = try? CatalogEntry(decodingJournalLine: bytes, decoder: CatalogEntry.makeDecoder())
        #expect((try? CatalogEntry(journalLine: bytes)) == reference)
    }

    @Test("nesting deeper than 64 levels is refused without recursion trouble")
    func deepNesting() {
        let line = #"{"recordingID":"x","startedAt":"2026-12-01T00:00:00Z","streams":"# + String(repeating: "[", count: 10_000) + "}"
        let bytes = Array(line.utf8)
        #expect(bytes.withUnsafeBytes { JournalLineReader.entry($0, line: line) } == nil)
    }
}
