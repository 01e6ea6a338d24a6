import ArgumentParser

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one recording: ids, times, participants, streams, file."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Recording id.")
    var id: String

    func run() async throws {
        let client = try global.makeClient()
        let path = ["api", "v1", "recordings", id]
        if global.json {
            Console.out(JSONText.prettyOrRaw(try await client.sendExpectingSuccess(.get, path).body))
            return
        }
        let (detail, _) = try await client.fetch(RecordingDetail.self, path)
        Console.out(RecordingDetailView.render(detail))
    }
}
