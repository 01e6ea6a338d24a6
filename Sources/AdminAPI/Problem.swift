import Foundation
import Hummingbird

/// An RFC 9457 problem: every error the API returns. `parameter` names the query or body
/// parameter a 400 is about.
public struct Problem: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var slug: String
    public var title: String
    public var detail: String
    public var parameter: String?
    public var extraHeaders: HTTPFields = [:]
    /// Extra members (readiness checks).
    var extra: [String: String]?
    /// For a replication upload at the wrong offset: where the receiver's copy ends.
    var receivedBytes: Int64?

    public init(_ status: HTTPResponse.Status, _ slug: String, _ title: String, detail: String, parameter: String? = nil) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.parameter = parameter
    }

    static func invalid(_ parameter: String, _ detail: String) -> Problem {
        Problem(.badRequest, "invalid-parameter", "Invalid parameter", detail: detail, parameter: parameter)
    }

    static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, "not-found", "Not found", detail: detail)
    }

    static func unauthorized(_ detail: String) -> Problem {
        var problem = Problem(.unauthorized, "unauthorized", "Unauthorized", detail: detail)
        problem.extraHeaders[.wwwAuthenticate] = "Bearer realm=\"siprecd\""
        return problem
    }

    static func forbidden(_ detail: String) -> Problem {
        Problem(.forbidden, "forbidden", "Forbidden", detail: detail)
    }

    static func unavailable(_ detail: String) -> Problem {
        var problem = Problem(.serviceUnavailable, "unavailable", "Service unavailable", detail: detail)
        problem.extraHeaders[.retryAfter] = "5"
        return problem
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var object: [String: Any] = [
            "type": "https://siprecd.example.com/problems/\(slug)",
            "title": title,
            "status": Int(status.code),
            "detail": detail,
        ]
        if let parameter { object["parameter"] = parameter }
        if let extra { object["checks"] = extra }
        if let receivedBytes { object["receivedBytes"] = receivedBytes }
        var headers = extraHeaders
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONBody.encode(object))))
    }
}
