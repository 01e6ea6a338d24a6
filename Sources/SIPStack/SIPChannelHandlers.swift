import NIOCore
import NIOSSL
import NIOTLS
import SIPCore

/// UDP: one message per datagram (RFC 3261 §18.3). Only translates bytes into endpoint calls.
final class SIPDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let core: SIPServerCore
    private let parser: SIPMessageParser
    private var localAddress: SocketAddress?

    init(core: SIPServerCore, parser: SIPMessageParser) {
        self.core = core
        self.parser = parser
    }

    func channelActive(context: ChannelHandlerContext) {
        localAddress = context.channel.localAddress
        core.registerDatagramChannel(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        core.beginReadBatch()
        let envelope = unwrapInboundIn(data)
        let peer = SIPPeer(transport: .udp, remoteAddress: envelope.remoteAddress, localAddress: localAddress)
        do {
            switch try parser.parse(datagram: envelope.data) {
            case .message(let message): core.received(message, from: peer)
            case .keepAlive: core.receivedKeepAlive()
            }
        } catch {
            core.receivedMalformed(error, from: peer)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        core.endReadBatch()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP port unreachable and friends surface here; a UDP socket stays open.
        core.logger.debug("UDP socket error", metadata: ["error": "\(error)"])
    }
}

/// TCP and TLS: Content-Length framing on a cumulated buffer, RFC 5626 keep-alives, and a
/// bounded wait for the rest of an incomplete message.
final class SIPStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let core: SIPServerCore
    private var framer: SIPStreamFramer
    private let transport: SIPTransportKind
    private let incompleteMessageTimeout: TimeAmount
    private var buffer: ByteBuffer?
    private var connectionID: Int?
    private var peer: SIPPeer?
    private var incompleteTimer: Scheduled<Void>?

    init(core: SIPServerCore, parser: SIPMessageParser, transport: SIPTransportKind, incompleteMessageTimeout: TimeAmount) {
        self.core = core
        self.framer = SIPStreamFramer(parser: parser)
        self.transport = transport
        self.incompleteMessageTimeout = incompleteMessageTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { register(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        register(context: context)
        context.fireChannelActive()
    }

    private func register(context: ChannelHandlerContext) {
        guard connectionID == nil else { return }
        guard let remote = context.channel.remoteAddress, let id = core.registerConnection(context.channel) else {
            // No peer address, or over the connection limit: nothing useful can happen here.
            context.close(promise: nil)
            return
        }
        connectionID = id
        peer = SIPPeer(transport: transport, remoteAddress: remote, localAddress: context.channel.localAddress, connectionID: id)
    }

    /// A peer that does not read what we write stops being read from (back-pressure), so our
    /// outbound queue cannot grow without bound.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.channel.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenComplete { _ in }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        incompleteTimer?.cancel()
        if let connectionID { core.unregisterConnection(connectionID) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        core.beginReadBatch()
        var incoming = unwrapInboundIn(data)
        if buffer == nil || buffer!.readableBytes == 0 {
            buffer = incoming
        } else {
            buffer!.writeBuffer(&incoming)
        }
        drain(context: context)
    }

    private func drain(context: ChannelHandlerContext) {
        guard var pending = buffer, let peer else { return }
        buffer = nil
        var progressed = false
        defer {
            if pending.readableBytes > 0 {
                pending.discardReadBytes()
                buffer = pending
            }
            if progressed {
                // The bounded wait is per message: progress restarts it.
                incompleteTimer?.cancel()
                incompleteTimer = nil
            }
            armIncompleteTimer(context: context)
        }
        while context.channel.isActive {
            let frame: SIPStreamFramer.Frame
            do {
                frame = try framer.next(&pending)
            } catch {
                // Framing is lost: answer if the request can be answered, then close.
                core.receivedMalformed(error.parseError, from: peer)
                core.connectionClosedOnError()
                pending.clear()
                // Flush the answer first: closing fails writes that are still queued.
                core.endReadBatch()
                context.close(promise: nil)
                return
            }
            if frame != .needMoreData { progressed = true }
            switch frame {
            case .needMoreData:
                return
            case .message(let message):
                core.received(message, from: peer)
            case .invalidMessage(let error):
                core.receivedMalformed(error, from: peer)
            case .keepAlivePing:
                // RFC 5626 §3.5.1: pong with a single CRLF.
                core.receivedKeepAlive()
                guard context.channel.isWritable else { continue }
                var pong = context.channel.allocator.buffer(capacity: 2)
                pong.writeStaticString("\r\n")
                context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        core.endReadBatch()
        context.fireChannelReadComplete()
    }

    /// A peer that starts a message and never finishes it is cut off after a bounded wait.
    private func armIncompleteTimer(context: ChannelHandlerContext) {
        let hasPartial = (buffer?.readableBytes ?? 0) > 0
        if !hasPartial {
            incompleteTimer?.cancel()
            incompleteTimer = nil
            return
        }
        guard incompleteTimer == nil else { return }
        let channel = context.channel
        let core = self.core
        incompleteTimer = context.eventLoop.scheduleTask(in: incompleteMessageTimeout) {
            core.connectionClosedOnError()
            channel.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        core.logger.debug("SIP connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// Closes a TLS connection whose handshake does not finish in time (a stalled client must not
/// hold a socket forever).
final class TLSHandshakeTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private var scheduled: Scheduled<Void>?
    private let onTimeout: @Sendable () -> Void

    init(timeout: TimeAmount, onTimeout: @escaping @Sendable () -> Void) {
        self.timeout = timeout
        self.onTimeout = onTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context: context)
        context.fireChannelActive()
    }

    private func arm(context: ChannelHandlerContext) {
        guard scheduled == nil else { return }
        let channel = context.channel
        let onTimeout = self.onTimeout
        scheduled = context.eventLoop.scheduleTask(in: timeout) {
            onTimeout()
            channel.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            scheduled?.cancel()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        scheduled?.cancel()
        context.fireChannelInactive()
    }
}
