#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Source networks allowed to send SIP. Requests from elsewhere get 403 (never a 5xx, which
/// would make an SBC fail over).
public struct TrustedNetworks: Hashable, Sendable {
    public struct Network: Hashable, Sendable, CustomStringConvertible {
        let bytes: [UInt8]
        let prefixLength: Int

        public init?(_ text: String) {
            let parts = text.split(separator: "/", maxSplits: 1)
            guard let addressPart = parts.first, let address = TrustedNetworks.addressBytes(String(addressPart)) else { return nil }
            let maxPrefix = address.count * 8
            if parts.count == 2 {
                guard let prefix = Int(parts[1]), (0...maxPrefix).contains(prefix) else { return nil }
                prefixLength = prefix
            } else {
                prefixLength = maxPrefix
            }
            bytes = address
        }

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var remaining = prefixLength
            var index = 0
            while remaining > 0 {
                let mask: UInt8 = remaining >= 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF << (8 - remaining))
                if address[index] & mask != bytes[index] & mask { return false }
                remaining -= 8
                index += 1
            }
            return true
        }

        public var description: String {
            let text: String
            if bytes.count == 4 {
                text = bytes.map(String.init).joined(separator: ".")
            } else {
                text = stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
            }
            return "\(text)/\(prefixLength)"
        }
    }

    public var networks: [Network]

    public init(_ networks: [Network]) { self.networks = networks }

    /// Parses CIDR strings; returns nil naming nothing when any is invalid.
    public init?(parsing texts: [String]) {
        var parsed: [Network] = []
        for text in texts {
            guard let network = Network(text) else { return nil }
            parsed.append(network)
        }
        networks = parsed
    }

    public static let everyone = TrustedNetworks([Network("0.0.0.0/0")!, Network("::/0")!])

    public func contains(_ address: SocketAddress) -> Bool {
        guard let bytes = TrustedNetworks.addressBytes(of: address) else { return false }
        if networks.contains(where: { $0.contains(bytes) }) { return true }
        // An IPv4-mapped IPv6 source (::ffff:a.b.c.d) matches IPv4 networks too.
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            let v4 = Array(bytes[12..<16])
            return networks.contains(where: { $0.contains(v4) })
        }
        return false
    }

    static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    static func addressBytes(of address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4):
            var raw = v4.address.sin_addr
            return withUnsafeBytes(of: &raw) { Array($0) }
        case .v6(let v6):
            var raw = v6.address.sin6_addr
            return withUnsafeBytes(of: &raw) { Array($0) }
        case .unixDomainSocket:
            return nil
        }
    }
}
