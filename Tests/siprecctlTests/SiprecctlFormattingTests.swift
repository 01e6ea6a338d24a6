import Foundation
import Testing
@testable import siprecctl

@Suite("siprecctl: formatting and requests")
struct SiprecctlFormattingTests {
    @Test("tables size columns to their content, right-align numbers and cut long cells")
    func table() {
        var table = TextTable(columns: [TextTable.Column("ID"), .number("SIZE"), TextTable.Column("NAME", maxWidth: 6)])
        table.append(["a", "5", "Alice Example"])
        table.append(["bbbb", "12345", "Bo"])
        let lines = table.render().split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("ID    "))
        #expect(lines[1].contains("    5"))
        #expect(lines[2].contains("12345"))
        #expect(lines[1].hasSuffix("…"))
        #expect(!lines[1].contains("Alice Example"))
    }

    @Test("durations, sizes and times as the tables show them")
    func texts() {
        #expect(DurationText.minutesSeconds(75 * 60) == "75:00")
        #expect(DurationText.minutesSeconds(2.4) == "0:02")
        #expect(DurationText.minutesSeconds(nil) == "-")
        #expect(ByteCountText.binary(65_446) == "63.9 KiB")
        #expect(UTCTimestamp.display("2026-11-30T21:05:12.345Z") == "2026-11-30 21:05:12")
        #expect(UTCTimestamp.parse("2026-02-30T00:00:00Z") == nil)
    }

    @Test("query values are percent-encoded, so + and & reach the server as typed")
    func query() {
        var query = QueryString()
        query.add("participant", "+1555 & co")
        query.add("limit", 50)
        query.add("state", nil as String?)
        #expect(query.encoded == "participant=%2B1555%20%26%20co&limit=50")
    }

    @Test("problem JSON becomes the message and the exit status")
    func problem() {
        let body = Data(#"{"type":"https://siprecd.example.com/problems/invalid-parameter","title":"Invalid parameter","status":400,"detail":"must be an integer from 1 to 500","parameter":"limit"}"#.utf8)
        let problem = Problem.decode(body, httpStatus: 400)
        #expect(problem.parameter == "limit")
        #expect(problem.message.contains("400 Invalid parameter"))
        #expect(Problem.exitCode(forStatus: 404) == 3)
        #expect(Problem.exitCode(forStatus: 401) == 2)
        #expect(Problem.decode(Data("<html>oops</html>".utf8), httpStatus: 502).status == 502)
    }
}
