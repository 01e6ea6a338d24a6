import ArgumentParser
import Foundation

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List recordings, newest first.",
        discussion: "Times are UTC. --from/--to take RFC 3339 or YYYY-MM-DD[ HH:MM[:SS]] (UTC)."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Participant number, AOR user part, full AOR or name (prefix, case-insensitive).")
    var participant: String?

    @Option(help: ArgumentHelp("Recordings that started at or after this time.", valueName: "time"))
    var from: String?

    @Option(help: ArgumentHelp("Recordings that started before this time.", valueName: "time"))
    var to: String?

    @Option(name: .customLong("call-id"), help: "A SIP Call-ID of the recorded call.")
    var callID: String?

    @Option(name: .customLong("vendor-id"), help: "A vendor call id (UCID, Cisco GUID, x-refci…).")
    var vendorID: String?

    @Option(help: "Tenant.")
    var tenant: String?

    @Option(help: "Recording state.")
    var state: RecordingState?

    @Option(help: "How the recording came in.")
    var source: RecordingSource?

    @Option(help: "Recordings per page, 1-500 (server default 50; 500 with --all).")
    var limit: Int?

    @Option(help: "Continue after this cursor (from a previous page).")
    var cursor: String?

    @Flag(help: "Follow nextCursor through all pages.")
    var all = false

    func validate() throws {
        if let limit, !RecordingQuery.limitRange.contains(limit) { throw ValidationError("--limit must be 1 to 500") }
        if let from, UTCTimestamp.queryValue(fromArgument: from) == nil {
            throw ValidationError("--from: expected RFC 3339 or YYYY-MM-DD[ HH:MM[:SS]], got \"\(from)\"")
        }
        if let to, UTCTimestamp.queryValue(fromArgument: to) == nil {
            throw ValidationError("--to: expected RFC 3339 or YYYY-MM-DD[ HH:MM[:SS]], got \"\(to)\"")
        }
    }

    func run() async throws {
        let client = try global.makeClient()
        var query = RecordingQuery(
            participant: participant,
            from: from.flatMap(UTCTimestamp.queryValue(fromArgument:)),
            to: to.flatMap(UTCTimestamp.queryValue(fromArgument:)),
            callID: callID, vendorID: vendorID, tenant: tenant,
            state: state?.rawValue, source: source?.rawValue,
            limit: limit ?? (all ? RecordingQuery.limitRange.upperBound : nil),
            cursor: cursor
        )
        let path = ["api", "v1", "recordings"]
        var recordings: [RecordingSummary] = []
        var rawPages: [JSONText] = []
        var seenCursors: Set<String> = []
        var nextCursor: String?
        repeat {
            if global.json {
                // JSON mode keeps each page as the server wrote it and reads only the cursor.
                let response = try await client.sendExpectingSuccess(.get, path, query: query.queryString())
                rawPages.append(try Self.document(response.body))
                nextCursor = try client.decode(PageCursor.self, from: response.body, request: "GET /api/v1/recordings").nextCursor
            } else {
                let (page, _) = try await client.fetch(ItemPage<RecordingSummary>.self, path, query: query.queryString())
                recordings += page.items
                nextCursor = page.nextCursor
            }
            guard all, let cursor = nextCursor else { break }
            // A cursor seen before would loop forever.
            guard seenCursors.insert(cursor).inserted else {
                throw CLIError.badResponse("the server returned cursor \(cursor) twice; stopped")
            }
            query = query.next(cursor: cursor)
        } while true

        if global.json {
            // One page: the server's document as it is; several: their items in one list.
            Console.out(rawPages.count == 1 ? rawPages[0].pretty() : JSONText.joiningItems(of: rawPages).pretty())
            if !all, let nextCursor { Console.error("siprecctl: more recordings: add --all, or --cursor \(nextCursor)") }
            return
        }
        Console.out(RecordingListView.render(recordings))
        if !all, let nextCursor {
            Console.error("siprecctl: more recordings: add --all, or --cursor \(nextCursor)")
        }
    }

    private static func document(_ body: Data) throws -> JSONText {
        do {
            return try JSONText.parse(body)
        } catch {
            throw CLIError.badResponse("the recordings page is not JSON (\(error.reason) at byte \(error.offset))")
        }
    }
}
