import ArgumentParser

struct TokensListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List tokens (never their secrets)."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let client = try global.makeClient()
        let path = ["api", "v1", "admin", "tokens"]
        if global.json {
            Console.out(JSONText.prettyOrRaw(try await client.sendExpectingSuccess(.get, path).body))
            return
        }
        let (page, _) = try await client.fetch(ItemPage<APIToken>.self, path)
        Console.out(TokenListView.render(page.items))
    }
}
