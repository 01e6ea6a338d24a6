import Foundation

/// The siprecd base URL (`--url`, `SIPRECD_URL`) and the request URLs built on it.
struct ServerAddress: Sendable, Equatable {
    static let defaultURL = "http://127.0.0.1:8080"

    /// Scheme, host, port and an optional path prefix, without a trailing "/".
    let base: String

    /// Accepts `http://host[:port][/prefix]` and `https://…`; a bare `host:port` gets `http://`.
    init(parsing text: String) throws(CLIError) {
        var candidate = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if !candidate.contains("://") { candidate = "http://" + candidate }
        while candidate.hasSuffix("/") { candidate.removeLast() }
        guard let components = URLComponents(string: candidate),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = components.host, !host.isEmpty,
              components.query == nil, components.fragment == nil else {
            throw CLIError.usage("invalid server URL \"\(text)\": expected http://HOST:PORT or https://HOST:PORT")
        }
        base = candidate
    }

    /// The base from `--url`, else from the environment's `SIPRECD_URL`, else the default.
    static func resolve(option: String?, environment: [String: String]) throws(CLIError) -> ServerAddress {
        if let option { return try ServerAddress(parsing: option) }
        if let fromEnvironment = environment["SIPRECD_URL"], !fromEnvironment.isEmpty {
            return try ServerAddress(parsing: fromEnvironment)
        }
        return try ServerAddress(parsing: defaultURL)
    }

    /// `base` + the segments (each percent-encoded) + the query.
    func url(_ segments: [String], query: QueryString = QueryString()) -> URL? {
        var text = base
        for segment in segments { text += "/" + QueryString.percentEncode(segment) }
        if !query.isEmpty { text += "?" + query.encoded }
        return URL(string: text)
    }

    /// How requests are named in messages: `GET /api/v1/recordings`.
    static func describe(_ segments: [String]) -> String {
        "/" + segments.joined(separator: "/")
    }
}
