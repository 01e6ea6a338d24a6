import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SIPCore

/// A small SIP client for tests of what sipp cannot send: raw bytes over UDP, TCP or TLS,
/// with the replies parsed by our own parser.
final class SIPTestClient: @unchecked Sendable {
    enum Event: Sendable {
        case bytes(ByteBuffer)
        case closed
        case error(String)
    }

    let channel: Channel
    let transport: String
    private let queue: EventQueue
    private var framer = SIPStreamFramer()
    private var pending = ByteBuffer()
    private let remote: SocketAddress
    private(set) var isClosed = false

    private init(channel: Channel, transport: String, queue: EventQueue, remote: SocketAddress) {
        self.channel = channel
        self.transport = transport
        self.queue = queue
        self.remote = remote
    }

    static func udp(port: Int, host: String = "127.0.0.1") async throws -> SIPTestClient {
        let queue = EventQueue()
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DatagramCollector(queue)) }
            }
            .bind(host: host, port: 0).get()
        return SIPTestClient(channel: channel, transport: "udp", queue: queue, remote: try SocketAddress(ipAddress: host, port: port))
    }

    static func tcp(port: Int, tls: NIOSSLContext? = nil) async throws -> SIPTestClient {
        let queue = EventQueue()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(StreamCollector(queue))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return SIPTestClient(channel: channel, transport: tls == nil ? "tcp" : "tls", queue: queue, remote: try SocketAddress(ipAddress: "127.0.0.1", port: port))
    }

    var localPort: Int { channel.localAddress?.port ?? 0 }

    func send(_ text: String) async throws {
        try await send(ByteBuffer(string: text))
    }

    func send(_ bytes: ByteBuffer) async throws {
        if transport == "udp" {
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: bytes))
        } else {
            try await channel.writeAndFlush(bytes)
        }
    }

    /// The next SIP message from the server, or nil if none comes within `timeout` or the
    /// connection closes first.
    func nextMessage(timeout: Duration = .seconds(5)) async -> SIPMessage? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if transport != "udp" {
                if case .message(let message)? = try? framer.next(&pending) { return message }
            }
            guard let event = await nextEvent(until: deadline) else { return nil }
            switch event {
            case .bytes(var bytes):
                if transport == "udp" {
                    if case .message(let message)? = try? SIPMessageParser().parse(datagram: bytes) { return message }
                    // A 400 to a request that lacked Call-ID or CSeq lacks them too: read its status line.
                    if let response = SIPTestClient.statusLineOnly(bytes) { return .response(response) }
                } else {
                    pending.writeBuffer(&bytes)
                }
            case .closed, .error:
                isClosed = true
                return nil
            }
        }
    }

    static func statusLineOnly(_ bytes: ByteBuffer) -> SIPResponse? {
        let text = String(buffer: bytes)
        guard text.hasPrefix("SIP/2.0 "), let lineEnd = text.range(of: "\r\n") else { return nil }
        let line = text[text.index(text.startIndex, offsetBy: 8)..<lineEnd.lowerBound]
        guard let code = Int(line.prefix(3)) else { return nil }
        return SIPResponse(statusCode: code, reasonPhrase: String(line.dropFirst(4)))
    }

    func nextResponse(timeout: Duration = .seconds(5)) async -> SIPResponse? {
        while let message = await nextMessage(timeout: timeout) {
            if case .response(let response) = message { return response }
        }
        return nil
    }

    /// The next raw bytes received (for keep-alive pongs), bypassing the framer.
    func nextBytes(timeout: Duration = .seconds(5)) async -> ByteBuffer? {
        if pending.readableBytes > 0 {
            defer { pending.clear() }
            return pending
        }
        guard case .bytes(let bytes)? = await nextEvent(until: ContinuousClock.now + timeout) else { return nil }
        return bytes
    }

    /// Waits (bounded) for the server to close the connection; true if it did.
    func waitForClose(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !isClosed {
            guard let event = await nextEvent(until: deadline) else { return false }
            if case .closed = event { isClosed = true }
            if case .error = event { isClosed = true }
        }
        return true
    }

    private func nextEvent(until deadline: ContinuousClock.Instant) async -> Event? {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { return queue.poll() }
        return await queue.next(timeout: remaining, loop: channel.eventLoop)
    }

    func close() async {
        try? await channel.close()
    }
}

/// Events from a channel, waited for with a bound (a timeout resumes the waiter with nil and
/// leaves the queue usable, unlike a cancelled AsyncStream).
final class EventQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [SIPTestClient.Event] = []
    private var waiter: (id: Int, continuation: CheckedContinuation<SIPTestClient.Event?, Never>)?
    private var nextID = 0

    func push(_ event: SIPTestClient.Event) {
        lock.lock()
        if let waiter {
            self.waiter = nil
            lock.unlock()
            waiter.continuation.resume(returning: event)
        } else {
            events.append(event)
            lock.unlock()
        }
    }

    func poll() -> SIPTestClient.Event? {
        lock.lock()
        defer { lock.unlock() }
        return events.isEmpty ? nil : events.removeFirst()
    }

    func next(timeout: Duration, loop: EventLoop) async -> SIPTestClient.Event? {
        await withCheckedContinuation { continuation in
            lock.lock()
            if !events.isEmpty {
                let event = events.removeFirst()
                lock.unlock()
                continuation.resume(returning: event)
                return
            }
            nextID += 1
            let id = nextID
            waiter = (id, continuation)
            lock.unlock()
            let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            loop.scheduleTask(in: .nanoseconds(nanoseconds)) { [self] in
                lock.lock()
                guard let waiter, waiter.id == id else {
                    lock.unlock()
                    return
                }
                self.waiter = nil
                lock.unlock()
                waiter.continuation.resume(returning: nil)
            }
        }
    }
}

private final class DatagramCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let queue: EventQueue
    init(_ queue: EventQueue) { self.queue = queue }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        queue.push(.bytes(unwrapInboundIn(data).data))
    }
    func channelInactive(context: ChannelHandlerContext) { queue.push(.closed) }
}

private final class StreamCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let queue: EventQueue
    init(_ queue: EventQueue) { self.queue = queue }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        queue.push(.bytes(unwrapInboundIn(data)))
    }
    func channelInactive(context: ChannelHandlerContext) {
        queue.push(.closed)
        context.fireChannelInactive()
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        queue.push(.error("\(error)"))
        context.close(promise: nil)
    }
}

enum SIPText {
    static func options(branch: String = "z9hG4bK\(UUID().uuidString.prefix(8))", callID: String = UUID().uuidString,
                        transport: String = "UDP", port: Int = 5060, method: String = "OPTIONS") -> String {
        [
            "\(method) sip:srs@127.0.0.1 SIP/2.0",
            "Via: SIP/2.0/\(transport) 127.0.0.1:\(port);branch=\(branch);rport",
            "Max-Forwards: 70",
            "From: <sip:src@example.com>;tag=t1",
            "To: <sip:srs@example.com>",
            "Call-ID: \(callID)",
            "CSeq: 1 \(method)",
            "Content-Length: 0",
            "", "",
        ].joined(separator: "\r\n")
    }
}
