/// The body of `POST /api/v1/admin/tokens`: `{"name":"ops","role":"auditor","tenant":null}`.
struct TokenRequest: Encodable, Sendable, Equatable {
    var name: String
    var role: String
    var tenant: String?

    private enum CodingKeys: String, CodingKey {
        case name, role, tenant
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(role, forKey: .role)
        // The contract spells out `"tenant": null` for an unscoped token.
        if let tenant { try container.encode(tenant, forKey: .tenant) } else { try container.encodeNil(forKey: .tenant) }
    }
}
