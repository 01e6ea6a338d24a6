/// A located instance of a non-SIP service (`_http._tcp`, say): address, port and the name it
/// was found under.
public struct ServiceTarget: Hashable, Sendable, CustomStringConvertible {
    public var address: String
    public var port: UInt16
    public var hostName: String?

    public init(address: String, port: UInt16, hostName: String? = nil) {
        self.address = address
        self.port = port
        self.hostName = hostName
    }

    public var description: String {
        (address.contains(":") ? "[\(address)]" : address) + ":\(port)"
    }
}
