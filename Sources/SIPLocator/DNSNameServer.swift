/// An explicit name server: an IPv4 address and a port (tests point it at a private dnsmasq;
/// glibc's override slot `nsaddr_list` takes IPv4 only).
public struct DNSNameServer: Hashable, Sendable, CustomStringConvertible {
    public var address: String
    public var port: UInt16

    public init?(address: String, port: UInt16 = 53) {
        guard IPAddressText.isIPv4(address), port > 0 else { return nil }
        self.address = address
        self.port = port
    }

    /// "IP" or "IP:PORT".
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            self.init(address: text)
        case 2:
            guard let port = UInt16(parts[1]) else { return nil }
            self.init(address: String(parts[0]), port: port)
        default:
            return nil
        }
    }

    public var description: String { "\(address):\(port)" }
}
