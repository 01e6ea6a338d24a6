import Logging
import Metrics
import NIOCore
import SIPCore

/// What the server composition implements to answer requests and follow dialogs.
public protocol SIPApplication: AnyObject {
    /// Called on the SIP event loop for every event of the endpoint.
    func handle(_ event: SIPEndpointEvent, core: SIPServerCore)
}

/// Counts of what the SIP layer refused or dropped, readable by tests and /metrics.
public struct SIPStats: Sendable {
    public var rejected: [SIPRejectReason: Int] = [:]
    public var parseErrors: [SIPParseError.Code: Int] = [:]
    public var messagesReceived = 0
    public var keepAlives = 0
    public var sendFailures = 0
    public var connectionsClosedOnError = 0
}

/// Runs the pure `SIPEndpoint` on one event loop: feeds it parsed messages and timer
/// expiries and carries out its actions on channels and the loop's scheduler.
///
/// Confined to `eventLoop`: every method must be called on it (checked in debug builds).
public final class SIPServerCore: @unchecked Sendable {
    public let eventLoop: EventLoop
    public private(set) var endpoint: SIPEndpoint
    public private(set) var stats = SIPStats()

    // Read through the core rather than `endpoint.…`: a read of `endpoint` from another module
    // copies the whole state machine (and retains every table of it) per call.

    /// Allow, Accept and Supported for an OPTIONS answer or a 2xx to INVITE.
    public func capabilityHeaders() -> [SIPHeaderField] { endpoint.capabilityHeaders() }

    /// Our Contact for a dialog created on `peer`.
    public func contact(for peer: SIPPeer, requestURI: SIPURI) -> SIPAddress { endpoint.contact(for: peer, requestURI: requestURI) }

    public var acceptedContentTypes: [String] { endpoint.configuration.acceptedContentTypes }

    /// Applies reloaded endpoint settings from the next message on (event loop).
    public func reconfigure(_ change: (inout SIPEndpointConfiguration) -> Void) {
        eventLoop.assertInEventLoop()
        change(&endpoint.configuration)
    }
    public weak var application: SIPApplication?
    let logger: Logger
    private var timers = SIPTimerQueue()
    private var wakeup: Scheduled<Void>?
    private var wakeupDeadline: NIODeadline?
    private var connections: [Int: Channel] = [:]
    private var datagramChannels: [Channel] = []
    private var nextConnectionID = 1
    private let maxConnections: Int
    private let rejectCounters: [SIPRejectReason: Counter]
    private let receivedCounter = Counter(label: "siprecd_sip_messages_received_total")
    private let parseErrorCounter = Counter(label: "siprecd_sip_parse_errors_total")

    public init(eventLoop: EventLoop, configuration: SIPEndpointConfiguration, logger: Logger, maxConnections: Int = 4096) {
        self.eventLoop = eventLoop
        self.maxConnections = maxConnections
        self.endpoint = SIPEndpoint(configuration: configuration)
        self.logger = logger
        var counters: [SIPRejectReason: Counter] = [:]
        for reason in SIPRejectReason.allCases {
            counters[reason] = Counter(label: "siprecd_sip_rejected_total", dimensions: [("reason", reason.rawValue)])
        }
        self.rejectCounters = counters
    }

    public var openConnectionCount: Int { connections.count }

    // MARK: - Inbound

    func received(_ message: SIPMessage, from peer: SIPPeer) {
        eventLoop.assertInEventLoop()
        stats.messagesReceived += 1
        receivedCounter.increment()
        run(endpoint.receive(message, from: peer))
    }

    func receivedMalformed(_ error: SIPParseError, from peer: SIPPeer) {
        eventLoop.assertInEventLoop()
        stats.parseErrors[error.code, default: 0] += 1
        parseErrorCounter.increment()
        logger.notice("malformed SIP message", metadata: ["peer": "\(peer)", "error": "\(error.code.rawValue)"])
        run(endpoint.receiveMalformed(error, from: peer))
    }

    func receivedKeepAlive() {
        stats.keepAlives += 1
    }

    func registerDatagramChannel(_ channel: Channel) {
        eventLoop.assertInEventLoop()
        datagramChannels.append(channel)
    }

    /// Registers an accepted TCP/TLS connection; nil when the peer is not trusted or the
    /// connection limit is reached (the caller closes it).
    func registerConnection(_ channel: Channel) -> Int? {
        eventLoop.assertInEventLoop()
        guard let remote = channel.remoteAddress, endpoint.configuration.trustedNetworks.contains(remote) else {
            count(.untrustedSource)
            return nil
        }
        guard connections.count < maxConnections else {
            count(.tooManyConnections)
            logger.warning("SIP connection refused: at max-connections", metadata: ["limit": "\(maxConnections)"])
            return nil
        }
        let id = nextConnectionID
        nextConnectionID += 1
        connections[id] = channel
        return id
    }

    private func count(_ reason: SIPRejectReason) {
        stats.rejected[reason, default: 0] += 1
        rejectCounters[reason]?.increment()
    }

    /// Closes every accepted connection (at shutdown, after the listeners).
    public func closeAllConnections() {
        eventLoop.assertInEventLoop()
        for channel in connections.values { channel.close(promise: nil) }
    }

    func unregisterConnection(_ id: Int) {
        eventLoop.assertInEventLoop()
        connections[id] = nil
    }

    func connectionClosedOnError() {
        stats.connectionsClosedOnError += 1
    }

    // MARK: - From the application

    public func respond(to key: ServerTransactionKey, status: Int, reasonPhrase: String? = nil,
                        headers: [SIPHeaderField] = [], body: ByteBuffer? = nil) {
        eventLoop.assertInEventLoop()
        run(endpoint.respond(to: key, status: status, reasonPhrase: reasonPhrase, headers: headers, body: body))
    }

    /// Where in-dialog requests the recorder sends go when the dialog's remote target names a
    /// host (RFC 3263): the UDP addresses to try, in order. Nil, or a numeric remote target,
    /// or a TCP/TLS dialog: the flow the dialog came on (its source address or connection).
    public var locateUDPTargets: (@Sendable (SIPURI) async -> [SocketAddress])?

    /// BYEs sent to located targets that may still move to the next one, by branch.
    private var failovers: [String: (request: SIPRequest, dialogID: SIPDialogID, remaining: [SIPPeer])] = [:]

    public func sendBYE(_ dialogID: SIPDialogID, extraHeaders: [SIPHeaderField] = []) {
        eventLoop.assertInEventLoop()
        guard let prepared = endpoint.prepareBYE(dialogID, extraHeaders: extraHeaders) else { return }
        let uri = prepared.request.uri
        guard prepared.peer.transport == .udp, let locate = locateUDPTargets, !Self.isNumeric(uri.hostWithoutBrackets) else {
            run(startClient(prepared.request, dialogID: dialogID, peer: prepared.peer, remaining: []))
            run([prepared.ended])
            return
        }
        // The dialog is over now; its BYE leaves once the remote target is located.
        run([prepared.ended])
        let flow = prepared.peer
        Task {
            let addresses = await locate(uri)
            self.eventLoop.execute {
                var peers = addresses.map { SIPPeer(transport: .udp, remoteAddress: $0, localAddress: flow.localAddress) }
                // Nothing located: the flow the dialog came on is still the best guess.
                if peers.isEmpty { peers = [flow] }
                let first = peers.removeFirst()
                self.run(self.startClient(prepared.request, dialogID: dialogID, peer: first, remaining: peers))
            }
        }
    }

    private func startClient(_ request: SIPRequest, dialogID: SIPDialogID, peer: SIPPeer, remaining: [SIPPeer]) -> [SIPEndpointAction] {
        let started = endpoint.startClient(request, dialogID: dialogID, peer: peer)
        if !remaining.isEmpty { failovers[started.branch] = (request, dialogID, remaining) }
        return started.actions
    }

    /// A located request that timed out or got 503 goes to the next target (RFC 3263 §4.3);
    /// true when it did (the result is not the application's yet).
    private func failOver(_ event: SIPEndpointEvent) -> Bool {
        guard case .clientResult(let branch, _, let result) = event, var pending = failovers.removeValue(forKey: branch) else { return false }
        switch result {
        case .timeout: break
        case .response(let response) where response.statusCode == 503: break
        case .response: return false
        }
        guard !pending.remaining.isEmpty else { return false }
        let next = pending.remaining.removeFirst()
        logger.notice("in-dialog request not answered by a located target; trying the next", metadata: ["next": "\(next)"])
        run(startClient(pending.request, dialogID: pending.dialogID, peer: next, remaining: pending.remaining))
        return true
    }

    static func isNumeric(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    // MARK: - Actions

    func run(_ actions: [SIPEndpointAction]) {
        for action in actions {
            switch action {
            case .send(let message, let peer):
                send(message, to: peer)
            case .schedule(let id, let delay, let generation):
                timers.schedule(id, generation: generation, at: .now() + .nanoseconds(delay.nanoseconds))
                armWakeup()
            case .event(let event):
                if case .rejected(let reason) = event { count(reason) }
                if failOver(event) { continue }
                application?.handle(event, core: self)
            }
        }
    }

    // Writes made while a read batch is being handled are flushed once at its end, so NIO can
    // send several datagrams with one sendmmsg instead of one syscall per message.
    private var inReadBatch = false
    private var unflushed: [ObjectIdentifier: Channel] = [:]

    func beginReadBatch() {
        inReadBatch = true
    }

    func endReadBatch() {
        inReadBatch = false
        flushPendingWrites()
    }

    private func flushPendingWrites() {
        guard !unflushed.isEmpty else { return }
        for channel in unflushed.values { channel.flush() }
        unflushed.removeAll(keepingCapacity: true)
    }

    private func write(_ data: NIOAny, on channel: Channel) {
        channel.write(data, promise: nil)
        unflushed[ObjectIdentifier(channel)] = channel
        if !inReadBatch { flushPendingWrites() }
    }

    private func send(_ message: SIPMessage, to peer: SIPPeer) {
        var buffer = (peer.transport.isReliable ? connections[peer.connectionID ?? 0] : datagramChannels.first)?.allocator.buffer(capacity: 1024)
            ?? ByteBuffer()
        message.write(into: &buffer)
        if peer.transport.isReliable {
            guard let id = peer.connectionID, let channel = connections[id] else {
                // RFC 3261 §18.2.2 would open a new connection to sent-by; SRCs keep theirs open.
                stats.sendFailures += 1
                return
            }
            write(NIOAny(buffer), on: channel)
        } else {
            guard let channel = datagramChannel(for: peer) else {
                stats.sendFailures += 1
                return
            }
            write(NIOAny(AddressedEnvelope(remoteAddress: peer.remoteAddress, data: buffer)), on: channel)
        }
    }

    private func datagramChannel(for peer: SIPPeer) -> Channel? {
        if let local = peer.localAddress, let match = datagramChannels.first(where: { $0.localAddress == local }) {
            return match
        }
        let wantV6: Bool
        if case .v6 = peer.remoteAddress { wantV6 = true } else { wantV6 = false }
        return datagramChannels.first { channel in
            if case .v6 = channel.localAddress { return wantV6 }
            return !wantV6
        } ?? datagramChannels.first
    }

    /// One NIO task wakes the core at the earliest SIP timer deadline.
    private func armWakeup() {
        guard let earliest = timers.earliestDeadline else { return }
        if let current = wakeupDeadline, current <= earliest { return }
        wakeup?.cancel()
        wakeupDeadline = earliest
        wakeup = eventLoop.scheduleTask(deadline: earliest) { [self] in
            wakeup = nil
            wakeupDeadline = nil
            for (id, generation) in timers.popExpired(now: .now()) {
                run(endpoint.timerFired(id, generation: generation))
            }
            armWakeup()
        }
    }

    /// Cancels every timer (at shutdown).
    public func cancelAllTimers() {
        eventLoop.assertInEventLoop()
        timers.cancelAll()
        wakeup?.cancel()
        wakeup = nil
        wakeupDeadline = nil
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
