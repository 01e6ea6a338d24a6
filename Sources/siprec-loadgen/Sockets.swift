#if canImport(Glibc)
import Glibc
#endif

/// A socket call failed: which call, and errno.
struct SocketError: Error, CustomStringConvertible {
    var operation: String
    var code: Int32
    init(_ operation: String, _ code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }
    var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// An IPv4 address and port (the load generator speaks IPv4 only, like most SRCs in the field).
struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    var ip: String
    var port: UInt16

    init(ip: String, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// "HOST:PORT"; a name is resolved once, here.
    init?(parsing text: String, defaultPort: UInt16? = nil) {
        let host: String
        let port: UInt16
        if let colon = text.lastIndex(of: ":"), let value = UInt16(text[text.index(after: colon)...]) {
            host = String(text[..<colon])
            port = value
        } else if let defaultPort {
            host = text
            port = defaultPort
        } else {
            return nil
        }
        guard let ip = Endpoint.resolve(host) else { return nil }
        self.init(ip: ip, port: port)
    }

    init(_ address: sockaddr_in) {
        var addr = address.sin_addr
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &addr, &text, socklen_t(INET_ADDRSTRLEN))
        let length = text.firstIndex(of: 0) ?? text.count
        self.init(ip: String(decoding: text[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self), port: UInt16(bigEndian: address.sin_port))
    }

    var sockaddr: sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, ip, &address.sin_addr)
        return address
    }

    var description: String { "\(ip):\(port)" }

    /// A dotted quad as it is, otherwise the first IPv4 address of the name.
    static func resolve(_ host: String) -> String? {
        var probe = in_addr()
        if inet_pton(AF_INET, host, &probe) == 1 { return host }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        guard let raw = first.pointee.ai_addr else { return nil }
        let address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
        return Endpoint(address).ip
    }
}

enum Sockets {
    /// A UDP socket bound to ip:port (port 0: any), non-blocking unless told otherwise.
    static func udp(bindIP: String, port: UInt16 = 0, nonBlocking: Bool = true) throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        var address = Endpoint(ip: bindIP, port: port).sockaddr
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let error = SocketError("bind \(bindIP):\(port)")
            close(fd)
            throw error
        }
        return (fd, try localEndpoint(fd).port)
    }

    static func localEndpoint(_ fd: Int32) throws -> Endpoint {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let status = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard status == 0 else { throw SocketError("getsockname") }
        return Endpoint(address)
    }

    /// connect(2): for UDP this only fixes the peer, so `send` needs no address and the kernel
    /// caches the route (cheaper per packet than `sendto`).
    static func connect(_ fd: Int32, to endpoint: Endpoint) throws {
        var address = endpoint.sockaddr
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else { throw SocketError("connect \(endpoint)") }
    }

    /// connect(2) bounded by `timeout` seconds (non-blocking connect, then poll); the socket
    /// is blocking again afterwards.
    static func connect(_ fd: Int32, to endpoint: Endpoint, timeout: Double) throws {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        var address = endpoint.sockaddr
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if status == 0 { return }
        guard errno == EINPROGRESS else { throw SocketError("connect \(endpoint)") }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&poller, 1, Int32(max(1, timeout * 1000)))
        guard ready > 0 else { throw SocketError("connect \(endpoint)", ready == 0 ? ETIMEDOUT : errno) }
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
        guard failure == 0 else { throw SocketError("connect \(endpoint)", failure) }
    }

    static func setBufferSize(_ fd: Int32, option: Int32, bytes: Int32) {
        var value = bytes
        setsockopt(fd, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// One socket per RTP stream: thousands of descriptors, so the soft limit goes to the hard one.
    static func raiseDescriptorLimit() {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        setrlimit(resource, &limit)
    }

    static func descriptorLimit() -> Int {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        return Int(limit.rlim_cur)
    }
}
