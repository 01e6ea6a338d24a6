import ArgumentParser
import Foundation

/// The options every command takes: where the server is, JSON output, and where the token
/// comes from. There is deliberately no option that takes the token itself: it would show
/// in `ps` and in shell history.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "siprecd base URL (default: $SIPRECD_URL, else \(ServerAddress.defaultURL)).", valueName: "url"))
    var url: String?

    @Flag(name: .long, help: "Print the server's JSON (pretty-printed) instead of tables.")
    var json = false

    @Option(name: .customLong("token-file"), help: ArgumentHelp(
        "Read the bearer token from this file (default: $SIPRECD_TOKEN).", valueName: "path"))
    var tokenFile: String?

    /// The API client for these options (reads the token file).
    func makeClient() throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        let server = try ServerAddress.resolve(option: url, environment: environment)
        return APIClient(server: server, token: try resolveToken(environment: environment))
    }

    /// `--token-file` wins over `SIPRECD_TOKEN`; surrounding whitespace (the file's final
    /// newline) is dropped. nil when neither is set: requests then go without a token.
    func resolveToken(environment: [String: String]) throws -> String? {
        let raw: String
        let origin: String
        if let tokenFile {
            do {
                raw = try String(contentsOfFile: tokenFile, encoding: .utf8)
            } catch {
                throw CLIError.local("cannot read the token file \(tokenFile): \(Self.reason(error))")
            }
            origin = "the token file \(tokenFile)"
        } else if let fromEnvironment = environment["SIPRECD_TOKEN"] {
            raw = fromEnvironment
            origin = "SIPRECD_TOKEN"
        } else {
            return nil
        }
        let token = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if token.isEmpty {
            if tokenFile != nil { throw CLIError.local("\(origin) is empty") }
            return nil
        }
        // A bearer token is one visible-ASCII word; anything else would corrupt the header.
        guard token.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw CLIError.local("\(origin) holds spaces or control characters; a token is one word")
        }
        return token
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError { return "no such file" }
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoPermissionError { return "permission denied" }
        return nsError.localizedDescription
    }
}
