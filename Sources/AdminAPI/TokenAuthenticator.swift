import Catalog
import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// Bearer tokens: the secret is random, shown once, and only its SHA-256 is stored. The
/// `SIPRECD_API_TOKEN` secret is an admin token that needs no catalog (the first admin, and a
/// way in while the database is down). Tokens found in the catalog are cached for a short
/// while, so each request does not cost a query; a revoked token stops working at once on
/// this node and within `cacheLifetime` on others.
final class TokenAuthenticator: Sendable {
    private let catalog: any RecordingCatalog
    private let bootstrapHash: String?
    private let cache = NIOLockedValueBox<[String: (token: APIToken, until: Date)]>([:])
    private let cacheLifetime: TimeInterval = 30

    static let bootstrapID = "bootstrap"

    init(catalog: any RecordingCatalog, bootstrapSecret: String?) {
        self.catalog = catalog
        bootstrapHash = bootstrapSecret.flatMap { $0.isEmpty ? nil : SHA256.hex(Array($0.utf8)) }
    }

    /// The token of the request, if it has one of `roles`; else 401 or 403.
    func authorize(_ request: Request, roles: Set<APIRole>) async throws -> APIToken {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized("an Authorization: Bearer token is required")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty, parts[1].utf8.count <= 200 else {
            throw Problem.unauthorized("the Authorization header must be Bearer <token>")
        }
        let hash = SHA256.hex(Array(parts[1].utf8))
        let token: APIToken
        if let bootstrapHash, Self.equal(hash, bootstrapHash) {
            token = APIToken(id: Self.bootstrapID, name: "SIPRECD_API_TOKEN", role: .admin, tenant: nil, secretHash: hash,
                             createdAt: Date(timeIntervalSince1970: 0))
        } else if let cached = cache.withLockedValue({ $0[hash] }), cached.until > Date() {
            token = cached.token
        } else {
            let found: APIToken?
            do {
                found = try await catalog.token(secretHash: hash)
            } catch {
                throw Problem.unavailable("tokens cannot be checked while the catalog is unreachable (SIPRECD_API_TOKEN still works)")
            }
            guard let found else { throw Problem.unauthorized("unknown or revoked token") }
            cache.withLockedValue { $0[hash] = (found, Date().addingTimeInterval(cacheLifetime)) }
            token = found
        }
        guard roles.contains(token.role) else {
            throw Problem.forbidden("the \(token.role.rawValue) role may not do this")
        }
        return token
    }

    func forget(tokenID: String) {
        cache.withLockedValue { cache in cache = cache.filter { $0.value.token.id != tokenID } }
    }

    /// A new token: the secret to show once, and what is stored.
    static func newToken(name: String, role: APIRole, tenant: String?) -> (secret: String, token: APIToken) {
        var generator = SystemRandomNumberGenerator()
        let secretBytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let secret = "sprc_" + Data(secretBytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let id = "tok_" + (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        return (secret, APIToken(id: id, name: name, role: role, tenant: tenant, secretHash: SHA256.hex(Array(secret.utf8)), createdAt: Date()))
    }

    /// Compares without stopping at the first difference.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<x.count { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}
