import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Carries SIP between the load generator and the target: one UDP socket, or one TCP
/// connection. Received messages are parsed on the transport's own thread and handed to
/// `handler` with the address they came from.
protocol SIPTransport: AnyObject, Sendable {
    var agent: LocalAgent { get }
    /// Sends to the target, or (UDP) to `destination` when given: answers to the server's own
    /// requests go back where those came from.
    func send(_ bytes: [UInt8], to destination: Endpoint?)
    func start(handler: @escaping @Sendable (SIPMessage, Endpoint) -> Void)
    func close()
}

/// SIP over one UDP socket, bound to the local address on an ephemeral port.
final class UDPTransport: SIPTransport, @unchecked Sendable {
    let agent: LocalAgent
    private let fd: Int32
    private let target: sockaddr_in
    private let stopping = NSLock()
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)

    init(localIP: String, target: Endpoint) throws {
        // Blocking with a receive timeout, so the receiving thread notices `close` by itself.
        let (fd, port) = try Sockets.udp(bindIP: localIP, nonBlocking: false)
        self.fd = fd
        self.target = target.sockaddr
        agent = LocalAgent(ip: localIP, port: port, transport: .udp)
        // Bursts of responses at high call rates must not overflow the default buffer.
        Sockets.setBufferSize(fd, option: SO_RCVBUF, bytes: 4 << 20)
        Sockets.setBufferSize(fd, option: SO_SNDBUF, bytes: 4 << 20)
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ bytes: [UInt8], to destination: Endpoint?) {
        var address = destination?.sockaddr ?? target
        _ = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
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
                guard count > 0 else { continue }  // timeout, EINTR or an empty datagram
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

/// SIP over one TCP connection to the target; messages framed by Content-Length.
final class TCPTransport: SIPTransport, @unchecked Sendable {
    let agent: LocalAgent
    private let fd: Int32
    private let sending = NSLock()
    private let stopping = NSLock()
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)

    init(localIP: String, target: Endpoint) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        var local = Endpoint(ip: localIP, port: 0).sockaddr
        var remote = target.sockaddr
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let connected = bound == 0 ? withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } : -1
        guard connected == 0 else {
            let error = SocketError(bound == 0 ? "connect \(target)" : "bind \(localIP)")
            Glibc.close(fd)
            throw error
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
        agent = LocalAgent(ip: localIP, port: try Sockets.localEndpoint(fd).port, transport: .tcp)
        self.target = target
    }

    private let target: Endpoint

    func send(_ bytes: [UInt8], to destination: Endpoint?) {
        sending.withLock {
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return  // connection gone: the transactions will time out and say so
                    }
                }
            }
        }
    }

    func start(handler: @escaping @Sendable (SIPMessage, Endpoint) -> Void) {
        let thread = Thread { [self] in
            var framer = StreamFramer()
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while !stopping.withLock({ stopped }) {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count == 0 {
                    if !stopping.withLock({ stopped }) { Log.warning("the target closed the TCP connection") }
                    break
                }
                guard count > 0 else {
                    if errno == EAGAIN || errno == EINTR { continue }
                    if !stopping.withLock({ stopped }) { Log.warning("TCP receive failed: \(SocketError("recv"))") }
                    break
                }
                framer.append(chunk[0..<count])
                while let message = framer.next() {
                    handler(message, target)
                }
            }
            done.signal()
        }
        thread.name = "sip-tcp"
        thread.start()
    }

    func close() {
        stopping.withLock { stopped = true }
        shutdown(fd, Int32(SHUT_RDWR))
        done.wait()
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
