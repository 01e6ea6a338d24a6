import ArgumentParser

struct MetadataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metadata",
        abstract: "Print every recording metadata (XML) version the SRC sent, oldest first."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Recording id.")
    var id: String

    func run() async throws {
        let client = try global.makeClient()
        let path = ["api", "v1", "recordings", id, "metadata"]
        if global.json {
            Console.out(JSONText.prettyOrRaw(try await client.sendExpectingSuccess(.get, path).body))
            return
        }
        let (history, _) = try await client.fetch(MetadataHistory.self, path)
        Console.out(MetadataView.render(history))
    }
}
