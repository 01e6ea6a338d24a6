/// Where to send a request: an address, port and transport (RFC 3263 §4). A located list of
/// them is tried in order, the next on failure (§4.3).
public struct SIPTarget: Hashable, Sendable, CustomStringConvertible {
    public enum Transport: String, Hashable, Sendable, CaseIterable {
        case udp, tcp, tls

        /// RFC 3263 §4.1 NAPTR services.
        public var naptrService: String {
            switch self {
            case .udp: "SIP+D2U"
            case .tcp: "SIP+D2T"
            case .tls: "SIPS+D2T"
            }
        }

        /// RFC 3263 §4.2 SRV prefixes.
        public var srvPrefix: String {
            switch self {
            case .udp: "_sip._udp"
            case .tcp: "_sip._tcp"
            case .tls: "_sips._tcp"
            }
        }

        /// RFC 3261 §19.1.2 default ports.
        public var defaultPort: UInt16 { self == .tls ? 5061 : 5060 }

        init?(naptrService service: String) {
            switch service.uppercased() {
            case "SIP+D2U": self = .udp
            case "SIP+D2T": self = .tcp
            case "SIPS+D2T": self = .tls
            default: return nil
            }
        }
    }

    /// A numeric IPv4 or IPv6 address (IPv6 without brackets).
    public var address: String
    public var port: UInt16
    public var transport: Transport
    /// The name the address was found under (SRV target or URI host), for TLS server names
    /// and logs; nil for a numeric URI host.
    public var hostName: String?

    public init(address: String, port: UInt16, transport: Transport, hostName: String? = nil) {
        self.address = address
        self.port = port
        self.transport = transport
        self.hostName = hostName
    }

    /// "127.0.0.1:5060/udp", "[2001:db8::1]:5061/tls".
    public var description: String {
        let host = address.contains(":") ? "[\(address)]" : address
        return "\(host):\(port)/\(transport.rawValue)"
    }
}
