import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Carries SIP between the load generator and its targets: one UDP socket for all of them, or
/// one TCP connection per target. Received messages are parsed on the transport's own
/// thread(s) and handed to `handler` with the address they came from.
protocol SIPTransport: AnyObject, Sendable {
    var kind: LocalAgent.Transport { get }
    /// How the load generator appears to `target` (Via sent-by, Contact), once it can reach
    /// it; nil when it cannot (TCP: the connection failed), a transport error (RFC 3263 §4.3).
    func agent(for target: Endpoint) -> LocalAgent?
    /// Sends to `destination` (a target, or where a server's request came from); false when
    /// the bytes could not be handed to the network.
    @discardableResult
    func send(_ bytes: [UInt8], to destination: Endpoint) -> Bool
    func start(handler: @escaping @Sendable (SIPMessage, Endpoint) -> Void)
    func close()
}

/// SIP over one UDP socket, bound to the local address on an ephemeral port.
final class UDPTransport: SIPTransport, @unchecked Sendable {
    let kind = LocalAgent.Transport.udp
    private let agent: LocalAgent
    private let fd: Int32
    private let stopping = NSLock()
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)

    init(localIP: String) throws {
        // Blocking with a receive timeout, so the receiving thread notices `close` by itself.
        let (fd, port) = try Sockets.udp(bindIP: localIP, nonBlocking: false)
        self.fd = fd
        agent = LocalAgent(ip: localIP, port: port, transport: .udp)
        // Bursts of responses at high call rates must not overflow the default buffer.
        Sockets.setBufferSize(fd, option: SO_RCVBUF, bytes: 4 << 20)
        Sockets.setBufferSize(fd, option: SO_SNDBUF, bytes: 4 << 20)
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func agent(for target: Endpoint) -> LocalAgent? { agent }

    func send(_ bytes: [UInt8], to destination: Endpoint) -> Bool {
        var address = destination.sockaddr
        let sent = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        return sent >= 0
    }

    func start(handler: @escaping @Sendable (SIPMessage, Endpoint) -> Void) {
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while !stopping.withLock({ stopped }) {
                var address = sockaddr_in()
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let count = buffer.withUnsafeMutableBytes { raw in
                    withUnsafeMutablePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length) }
                    }
                }
                guard count > 0 else { continue }  // timeout, EINTR, ICMP error or an empty datagram
                if let message = SIPMessage.parse(buffer[0..<count]) {
                    handler(message, Endpoint(address))
                }
            }
            done.signal()
        }
        thread.name = "sip-udp"
        thread.start()
    }

    func close() {
        stopping.withLock { stopped = true }
        done.wait()
        Glibc.close(fd)
    }
}

/// SIP over TCP: one connection per target, opened when first needed (a connect is bounded by
/// `connectTimeout`) and opened again after the target closed it.
final class TCPTransport: SIPTransport, @unchecked Sendable {
    let kind = LocalAgent.Transport.tcp
    private let localIP: String
    private let connectTimeout: Double
    private let lock = NSLock()
    private var connections: [Endpoint: TCPConnection] = [:]
    private var handler: (@Sendable (SIPMessage, Endpoint) -> Void)?
    private var closed = false

    init(localIP: String, connectTimeout: Double) {
        self.localIP = localIP
        self.connectTimeout = connectTimeout
    }

    func agent(for target: Endpoint) -> LocalAgent? {
        connection(to: target)?.agent
    }

    func send(_ bytes: [UInt8], to destination: Endpoint) -> Bool {
        guard let connection = connection(to: destination) else { return false }
        return connection.send(bytes)
    }

    func start(handler: @escaping @Sendable (SIPMessage, Endpoint) -> Void) {
        let existing: [TCPConnection] = lock.withLock {
            self.handler = handler
            return Array(connections.values)
        }
        for connection in existing { connection.start(handler: handler) }
    }

    func close() {
        let all: [TCPConnection] = lock.withLock {
            closed = true
            defer { connections.removeAll() }
            return Array(connections.values)
        }
        for connection in all { connection.close() }
    }

    /// The live connection to `target`, connecting when there is none.
    private func connection(to target: Endpoint) -> TCPConnection? {
        let (existing, handler): (TCPConnection?, (@Sendable (SIPMessage, Endpoint) -> Void)?) = lock.withLock {
            if let connection = connections[target], connection.isOpen { return (connection, nil) }
            return (nil, self.handler)
        }
        if let existing { return existing }
        let connection: TCPConnection
        do {
            connection = try TCPConnection(localIP: localIP, target: target, timeout: connectTimeout)
        } catch {
            Log.warning("TCP to \(target): \(error)")
            return nil
        }
        let stale: TCPConnection? = lock.withLock {
            guard !closed else { return connection }
            defer { connections[target] = connection }
            return connections[target]
        }
        stale?.close()
        if let handler { connection.start(handler: handler) }
        return connection
    }
}

/// One TCP connection to a target; messages framed by Content-Length.
final class TCPConnection: @unchecked Sendable {
    let agent: LocalAgent
    private let fd: Int32
    private let target: Endpoint
    private let sending = NSLock()
    private let stopping = NSLock()
    private var stopped = false
    private var open = true
    private var started = false
    private let done = DispatchSemaphore(value: 0)

    init(localIP: String, target: Endpoint, timeout: Double) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        var local = Endpoint(ip: localIP, port: 0).sockaddr
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let error = SocketError("bind \(localIP)")
            Glibc.close(fd)
            throw error
        }
        do {
            try Sockets.connect(fd, to: target, timeout: timeout)
        } catch {
            Glibc.close(fd)
            throw error
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var receiveTimeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
        self.target = target
        agent = LocalAgent(ip: localIP, port: try Sockets.localEndpoint(fd).port, transport: .tcp)
    }

    /// False once the target closed the connection or it failed.
    var isOpen: Bool { stopping.withLock { open && !stopped } }

    func send(_ bytes: [UInt8]) -> Bool {
        guard isOpen else { return false }
        return sending.withLock {
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return false  // connection gone: the transaction fails over or times out
                    }
                }
                return true
            }
        }
    }

    func start(handler: @escaping @Sendable (SIPMessage, Endpoint) -> Void) {
        let first = stopping.withLock { () -> Bool in
            defer { started = true }
            return !started
        }
        guard first else { return }
        let thread = Thread { [self] in
            var framer = StreamFramer()
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while !stopping.withLock({ stopped }) {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count == 0 {
                    if !stopping.withLock({ stopped }) { Log.warning("\(target) closed the TCP connection") }
                    break
                }
                guard count > 0 else {
                    if errno == EAGAIN || errno == EINTR { continue }
                    if !stopping.withLock({ stopped }) { Log.warning("TCP receive from \(target) failed: \(SocketError("recv"))") }
                    break
                }
                framer.append(chunk[0..<count])
                while let message = framer.next() {
                    handler(message, target)
                }
            }
            stopping.withLock { open = false }
            done.signal()
        }
        thread.name = "sip-tcp"
        thread.start()
    }

    func close() {
        let wasStarted = stopping.withLock { () -> Bool in
            stopped = true
            return started
        }
        shutdown(fd, Int32(SHUT_RDWR))
        if wasStarted { done.wait() }
        Glibc.close(fd)
    }
}

/// Cuts a TCP byte stream into SIP messages (RFC 3261 18.3: the header section ends at the
/// first blank line, the body is Content-Length bytes; CRLF keep-alives in between are skipped).
struct StreamFramer {
    private var buffer: [UInt8] = []
    private var start = 0

    mutating func append(_ bytes: ArraySlice<UInt8>) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 65_536 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    mutating func next() -> SIPMessage? {
        while true {
            while start + 1 < buffer.count, buffer[start] == 13, buffer[start + 1] == 10 { start += 2 }
            guard let end = SIPMessage.headerEnd(in: buffer[start...]) else { return nil }
            let length = Self.contentLength(buffer[start..<end.lowerBound]) ?? 0
            guard buffer.count - end.upperBound >= length else { return nil }
            let message = SIPMessage.parse(buffer[start..<(end.upperBound + length)])
            start = end.upperBound + length
            if let message { return message }
            // An unparseable message is dropped; the stream stays framed by its Content-Length.
        }
    }

    private static func contentLength(_ head: ArraySlice<UInt8>) -> Int? {
        let text = String(decoding: head, as: UTF8.self)
        for line in text.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if SIPMessage.canonicalName(line[..<colon].trimmingWhitespace()) == "content-length" {
                return Int(line[line.index(after: colon)...].trimmingWhitespace())
            }
        }
        return nil
    }
}
