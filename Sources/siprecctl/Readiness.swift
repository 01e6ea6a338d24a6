/// `GET /readyz`: `{"status":"ready","checks":{...}}` on 200; the 503 problem carries the same
/// `checks` member.
struct Readiness: Decodable, Sendable, Equatable {
    var status: String?
    var checks: [String: String]?
    var title: String?
    var detail: String?

    private enum CodingKeys: String, CodingKey {
        case status, checks, title, detail
    }

    init(status: String? = nil, checks: [String: String]? = nil, title: String? = nil, detail: String? = nil) {
        self.status = status
        self.checks = checks
        self.title = title
        self.detail = detail
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        // `status` is a string on 200 and the HTTP status number in the problem.
        if let text = try? container.decodeIfPresent(String.self, forKey: .status) {
            status = text
        } else if let number = try? container.decodeIfPresent(Int.self, forKey: .status) {
            status = String(number)
        }
        checks = try? container.decodeIfPresent([String: String].self, forKey: .checks)
        title = try? container.decodeIfPresent(String.self, forKey: .title)
        detail = try? container.decodeIfPresent(String.self, forKey: .detail)
    }
}
