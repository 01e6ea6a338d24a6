import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Requests to siprecd over URLSession. Errors come out as `CLIError`: the server's problem
/// for an error status, a readable message when there is no answer at all.
struct APIClient: Sendable {
    enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
        case delete = "DELETE"
    }

    /// An answer, whatever its status.
    struct Response: Sendable {
        var status: Int
        /// Header names lowercased.
        var headers: [String: String]
        var body: Data

        var isSuccess: Bool { (200..<300).contains(status) }
    }

    /// A body saved to a temporary file (`download`).
    struct DownloadedFile: Sendable {
        var status: Int
        var headers: [String: String]
        var location: URL
    }

    let server: ServerAddress
    let token: String?
    private let session: URLSession

    init(server: ServerAddress, token: String?) {
        self.server = server
        self.token = token
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpShouldSetCookies = false
        session = URLSession(configuration: configuration)
    }

    // MARK: - Requests

    /// Sends the request and returns the answer of any status.
    func send(_ method: Method, _ segments: [String], query: QueryString = QueryString(), body: Data? = nil,
              authenticated: Bool = true) async throws -> Response {
        let request = try makeRequest(method, segments, query: query, body: body, authenticated: authenticated)
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw connectionError(error)
        }
        guard let http = response as? HTTPURLResponse else {
            throw CLIError.badResponse("\(server.base) did not answer with HTTP")
        }
        return Response(status: http.statusCode, headers: Self.headers(of: http), body: data)
    }

    /// Sends the request; an error status becomes `CLIError.problem`.
    func sendExpectingSuccess(_ method: Method, _ segments: [String], query: QueryString = QueryString(),
                              body: Data? = nil) async throws -> Response {
        let response = try await send(method, segments, query: query, body: body)
        guard response.isSuccess else { throw failure(status: response.status, body: response.body) }
        return response
    }

    /// GET/POST whose 2xx body is JSON of type `Value`.
    func fetch<Value: Decodable>(_ type: Value.Type, _ segments: [String], method: Method = .get,
                                 query: QueryString = QueryString(), body: Data? = nil) async throws -> (Value, Response) {
        let response = try await sendExpectingSuccess(method, segments, query: query, body: body)
        return (try decode(type, from: response.body, request: "\(method.rawValue) \(ServerAddress.describe(segments))"), response)
    }

    /// Streams the body to a temporary file (audio can be large). An error status becomes
    /// `CLIError.problem` and leaves no file behind.
    func download(_ segments: [String], query: QueryString = QueryString()) async throws -> DownloadedFile {
        let request = try makeRequest(.get, segments, query: query, body: nil, authenticated: true)
        let location: URL
        let response: URLResponse
        do {
            (location, response) = try await session.download(for: request)
        } catch {
            throw connectionError(error)
        }
        guard let http = response as? HTTPURLResponse else {
            try? FileManager.default.removeItem(at: location)
            throw CLIError.badResponse("\(server.base) did not answer with HTTP")
        }
        guard (200..<300).contains(http.statusCode) else {
            let body = (try? Data(contentsOf: location)) ?? Data()
            try? FileManager.default.removeItem(at: location)
            throw failure(status: http.statusCode, body: body)
        }
        return DownloadedFile(status: http.statusCode, headers: Self.headers(of: http), location: location)
    }

    func decode<Value: Decodable>(_ type: Value.Type, from body: Data, request: String) throws -> Value {
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw CLIError.badResponse("cannot read the answer to \(request): \(Self.describe(decodingError: error))")
        }
    }

    // MARK: - Helpers

    private func makeRequest(_ method: Method, _ segments: [String], query: QueryString, body: Data?,
                             authenticated: Bool) throws -> URLRequest {
        guard let url = server.url(segments, query: query) else {
            throw CLIError.usage("cannot build a URL from \(server.base) and \(ServerAddress.describe(segments))")
        }
        var request = URLRequest(url: url)
        request.httpMethod = method.rawValue
        request.setValue("application/json, application/problem+json;q=0.9, */*;q=0.5", forHTTPHeaderField: "Accept")
        request.setValue("siprecctl", forHTTPHeaderField: "User-Agent")
        if authenticated, let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        return request
    }

    /// The problem of an error answer, with a hint when a 401 came for a request sent without a token.
    func failure(status: Int, body: Data) -> CLIError {
        let problem = Problem.decode(body, httpStatus: status)
        let hint: String? = status == 401 && token == nil
            ? "no token was sent: set SIPRECD_TOKEN or pass --token-file PATH"
            : nil
        return .problem(problem, hint: hint)
    }

    private func connectionError(_ error: any Error) -> CLIError {
        if let error = error as? CLIError { return error }
        let target = server.base
        guard let urlError = error as? URLError else {
            return .connection("request to \(target) failed: \(error.localizedDescription)")
        }
        let reason: String
        switch urlError.code {
        case .cannotConnectToHost:
            reason = "connection refused (is siprecd running there? use --url or SIPRECD_URL)"
        case .cannotFindHost, .dnsLookupFailed:
            reason = "unknown host"
        case .timedOut:
            reason = "no answer within 30 s"
        case .networkConnectionLost:
            reason = "the connection was closed before the answer was complete"
        case .notConnectedToInternet:
            reason = "no network"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
             .serverCertificateHasUnknownRoot, .serverCertificateNotYetValid, .clientCertificateRejected:
            reason = "TLS failed: \(urlError.localizedDescription)"
        case .badServerResponse:
            reason = "the answer was not valid HTTP"
        default:
            reason = urlError.localizedDescription
        }
        return .connection("cannot reach siprecd at \(target): \(reason)")
    }

    private static func headers(of response: HTTPURLResponse) -> [String: String] {
        var headers: [String: String] = [:]
        for (key, value) in response.allHeaderFields {
            if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
        }
        return headers
    }

    private static func describe(decodingError error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not JSON" : "bad value at \(path(context.codingPath))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "unexpected value at \(path(context.codingPath))"
        case .keyNotFound(let key, let context):
            return "missing \(path(context.codingPath + [key]))"
        @unknown default:
            return "\(error)"
        }
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
    }
}
