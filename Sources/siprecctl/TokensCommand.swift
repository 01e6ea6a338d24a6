import ArgumentParser

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Manage API bearer tokens (role admin).",
        subcommands: [TokensListCommand.self, TokensCreateCommand.self, TokensDeleteCommand.self]
    )
}
