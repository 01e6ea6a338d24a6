/// A bearer token as `GET /api/v1/admin/tokens` lists it (never the secret), and the reply to
/// `POST /api/v1/admin/tokens`, which alone carries the secret (`token`).
struct APIToken: Decodable, Sendable, Equatable {
    var id: String?
    var name: String?
    var role: String?
    var tenant: String?
    var createdAt: String?
    /// Only in the creation reply.
    var token: String?
}
