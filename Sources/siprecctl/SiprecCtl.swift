import ArgumentParser
import Foundation

@main
struct SiprecCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "siprecctl",
        abstract: "Administer a siprecd recording server over its REST API.",
        discussion: """
            The bearer token comes from the SIPRECD_TOKEN environment variable or from a file \
            (--token-file); it is never taken on the command line. The server URL comes from \
            --url, else SIPRECD_URL, else \(ServerAddress.defaultURL).

            Exit status: 0 success, 1 error (server error, bad request, no connection), \
            2 unauthorized or forbidden, 3 not found.
            """,
        subcommands: [
            ListCommand.self, ShowCommand.self, DownloadCommand.self, MetadataCommand.self,
            CallsCommand.self, PauseCommand.self, ResumeCommand.self, StopCommand.self,
            TokensCommand.self, HealthCommand.self,
        ]
    )

    /// Runs the chosen command; a `CLIError` is printed as `siprecctl: <message>` on standard
    /// error and sets the exit status. Everything else (usage errors, --help) is
    /// ArgumentParser's.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            if let message = error.message { Console.error("siprecctl: " + message) }
            exit(withError: ExitCode(error.exitCode))
        } catch {
            exit(withError: error)
        }
    }
}
