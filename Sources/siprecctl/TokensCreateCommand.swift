import ArgumentParser
import Foundation

struct TokensCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a token; its secret is printed once."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "A name for people (who or what uses the token).")
    var name: String

    @Option(help: "What the token may do.")
    var role: TokenRole

    @Option(help: "Limit the token to this tenant's recordings and calls (default: all tenants).")
    var tenant: String?

    func validate() throws {
        if name.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--name must not be empty") }
        if tenant?.isEmpty == true { throw ValidationError("--tenant must not be empty") }
    }

    func run() async throws {
        let client = try global.makeClient()
        let body = try JSONEncoder().encode(TokenRequest(name: name, role: role.rawValue, tenant: tenant))
        let path = ["api", "v1", "admin", "tokens"]
        if global.json {
            Console.out(JSONText.prettyOrRaw(try await client.sendExpectingSuccess(.post, path, body: body).body))
            return
        }
        let (token, _) = try await client.fetch(APIToken.self, path, method: .post, body: body)
        Console.out(TokenListView.renderCreated(token))
    }
}
