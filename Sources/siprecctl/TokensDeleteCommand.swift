import ArgumentParser

struct TokensDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete (revoke) a token."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Token id (tok_…).")
    var id: String

    func run() async throws {
        let client = try global.makeClient()
        let response = try await client.sendExpectingSuccess(.delete, ["api", "v1", "admin", "tokens", id])
        if global.json {
            // 204 has no body; print one only if the server sent one.
            if !response.body.isEmpty { Console.out(JSONText.prettyOrRaw(response.body)) }
        } else {
            Console.out("deleted token \(id)")
        }
    }
}
