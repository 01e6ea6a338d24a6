import Foundation

/// An RFC 9457 problem document (`application/problem+json`) as siprecd sends it. Every
/// member is optional: a reply that is not a problem at all still gives a usable message.
struct Problem: Decodable, Sendable, Equatable {
    var type: String?
    var title: String?
    var status: Int?
    var detail: String?
    var parameter: String?

    init(type: String? = nil, title: String? = nil, status: Int? = nil, detail: String? = nil, parameter: String? = nil) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.parameter = parameter
    }

    /// The problem in an error reply of status `httpStatus`. A body that is not problem JSON
    /// (a proxy's HTML page, plain text) becomes a problem with the HTTP reason phrase as title
    /// and the body's first line as detail.
    static func decode(_ body: Data, httpStatus: Int) -> Problem {
        if let problem = try? JSONDecoder().decode(Problem.self, from: body),
           problem.title != nil || problem.detail != nil || problem.type != nil {
            var result = problem
            // The status line is what happened; a body that disagrees does not change the exit status.
            result.status = httpStatus
            if result.title == nil || result.title?.isEmpty == true { result.title = reasonPhrase(httpStatus) }
            return result
        }
        let text = String(decoding: body.prefix(4096), as: UTF8.self)
        let firstLine = text.split(whereSeparator: \.isNewline).first
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        // An HTML error page says nothing useful on one terminal line.
        let detail = firstLine.isEmpty || firstLine.hasPrefix("<") ? nil : String(firstLine.prefix(300))
        return Problem(title: reasonPhrase(httpStatus), status: httpStatus, detail: detail)
    }

    /// `<status> <title>: <detail>`, with the parameter a 400 names (`(parameter "limit")`).
    var message: String {
        var text = "\(status.map(String.init) ?? "?") \(title ?? "Error")"
        if let detail, !detail.isEmpty { text += ": " + detail }
        if let parameter, !parameter.isEmpty { text += " (parameter \"\(parameter)\")" }
        return text
    }

    /// The exit status for a failed request: 2 for 401/403 (credentials), 3 for 404, else 1.
    static func exitCode(forStatus status: Int) -> Int32 {
        switch status {
        case 401, 403: return 2
        case 404: return 3
        default: return 1
        }
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 416: return "Range Not Satisfiable"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "HTTP \(status)"
        }
    }
}
