import Logging
import NIOCore
import SDP
import SIPCore
import SIPStack

/// Answers recording sessions: decides whether an INVITE can be recorded, reserves media
/// ports, answers its SDP and follows the dialog until it ends. Runs on the SIP event loop.
///
/// Until the SIPREC/metadata and media layers land, a session is accepted on its SDP alone:
/// every recordable audio m-line gets a port pair from the pool and `a=recvonly`.
public final class RecordingSessionController: SIPApplication, @unchecked Sendable {
    struct Call {
        var key: ServerTransactionKey
        var dialogID: SIPDialogID?
        var ports: [Int?]
        var isSIPREC: Bool
        var answerer: SDPAnswerer
        var sdpVersion: UInt64 = 1
        var pendingAnswer: Scheduled<Void>?
    }

    public struct Snapshot: Sendable, Equatable {
        public var activeCalls: Int
        public var portsInUse: Int
    }

    private let configuration: ServerConfiguration
    private let logger: Logger
    private var portPool: RTPPortPool
    private var pending: [ServerTransactionKey: Call] = [:]
    private var established: [SIPDialogID: Call] = [:]

    public init(configuration: ServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.portPool = RTPPortPool(range: configuration.rtpPorts)
    }

    /// Stops answers scheduled for later (at shutdown).
    public func cancelPendingAnswers() {
        for (key, call) in pending {
            call.pendingAnswer?.cancel()
            release(call)
            pending[key] = nil
        }
    }

    public var snapshot: Snapshot { Snapshot(activeCalls: pending.count + established.count, portsInUse: portPool.allocated) }

    public func handle(_ event: SIPEndpointEvent, core: SIPServerCore) {
        switch event {
        case .request(let incoming):
            handleRequest(incoming, core: core)
        case .ack(let dialogID, let request):
            if established[dialogID] != nil, request.body != nil {
                logger.debug("SDP answer received in ACK", metadata: ["dialog": "\(dialogID)"])
            }
        case .cancelled(let key):
            if let call = pending.removeValue(forKey: key) {
                call.pendingAnswer?.cancel()
                release(call)
                logger.info("recording session cancelled before answer")
            }
        case .dialogEnded(let dialogID, let reason):
            if let call = established.removeValue(forKey: dialogID) {
                release(call)
                logger.info("recording session ended", metadata: ["reason": "\(reason.rawValue)", "siprec": "\(call.isSIPREC)"])
            }
        case .clientResult(_, _, let result):
            if case .timeout = result { logger.notice("BYE was not answered") }
        case .rejected(let reason):
            logger.debug("SIP request rejected", metadata: ["reason": "\(reason.rawValue)"])
        }
    }

    private func handleRequest(_ incoming: SIPIncomingRequest, core: SIPServerCore) {
        let request = incoming.request
        switch request.method {
        case .options:
            core.respond(to: incoming.key, status: 200, headers: core.endpoint.capabilityHeaders())
        case .invite where incoming.dialogID == nil:
            handleInitialINVITE(incoming, core: core)
        case .invite, .update:
            handleSessionUpdate(incoming, core: core)
        default:
            // INFO and anything else the endpoint lets through inside or outside a dialog.
            core.respond(to: incoming.key, status: 200)
        }
    }

    private func handleInitialINVITE(_ incoming: SIPIncomingRequest, core: SIPServerCore) {
        let request = incoming.request
        guard snapshot.activeCalls < configuration.maxConcurrentCalls else {
            // Over capacity: 503 makes the SRC fail over to another recorder (RFC 3261 §21.5.4).
            core.respond(to: incoming.key, status: 503, headers: [SIPHeaderField(name: .retryAfter, value: "5")])
            logger.warning("recording session refused: at max-concurrent-calls")
            return
        }
        let offer: SessionDescription?
        switch Self.extractSDP(request) {
        case .none:
            offer = nil
        case .sdp(let sdp):
            offer = sdp
        case .unreadable(let status, let warning):
            var headers = [SIPHeaderField(name: .warning, value: "399 siprecd \"\(warning)\"")]
            if status == 415 { headers.append(SIPHeaderField(name: .accept, value: core.endpoint.configuration.acceptedContentTypes.joined(separator: ", "))) }
            core.respond(to: incoming.key, status: status, headers: headers)
            logger.notice("recording session refused", metadata: ["status": "\(status)", "why": "\(warning)"])
            return
        }
        let address = answerAddress(incoming)
        var call = Call(key: incoming.key, ports: [], isSIPREC: Self.isSIPREC(request), answerer: SDPAnswerer(address: address))
        let body: SessionDescription
        if let offer {
            guard offer.media.count <= configuration.maxStreamsPerCall else {
                core.respond(to: incoming.key, status: 488, headers: [SIPHeaderField(name: .warning, value: "370 siprecd \"too many media streams\"")])
                logger.notice("recording session refused: too many media streams", metadata: ["streams": "\(offer.media.count)"])
                return
            }
            for media in offer.media {
                call.ports.append(SDPAnswerer.isRecordable(media) ? portPool.allocate() : nil)
            }
            guard call.ports.contains(where: { $0 != nil }) else {
                let exhausted = offer.media.contains(where: SDPAnswerer.isRecordable)
                release(call)
                if exhausted {
                    core.respond(to: incoming.key, status: 503, headers: [SIPHeaderField(name: .retryAfter, value: "5")])
                    logger.warning("recording session refused: no free media ports")
                } else {
                    core.respond(to: incoming.key, status: 488, headers: [SIPHeaderField(name: .warning, value: "304 siprecd \"no recordable audio stream\"")])
                    logger.notice("recording session refused: no recordable stream")
                }
                return
            }
            body = call.answerer.answer(to: offer, ports: call.ports)
        } else {
            guard let port = portPool.allocate() else {
                core.respond(to: incoming.key, status: 503, headers: [SIPHeaderField(name: .retryAfter, value: "5")])
                return
            }
            call.ports = [port]
            body = call.answerer.offer(port: port)
        }
        logger.info("recording session accepted", metadata: [
            "siprec": "\(call.isSIPREC)", "streams": "\(call.ports.compactMap { $0 }.count)",
            "delayedOffer": "\(offer == nil)", "transport": "\(incoming.peer.transport.rawValue)",
        ])
        let answer: @Sendable () -> Void = { [self] in
            guard var call = pending.removeValue(forKey: incoming.key) else { return }
            call.pendingAnswer = nil
            let dialogID = SIPDialogID(callID: request.callID ?? "", localTag: incoming.localTag, remoteTag: request.from?.tag ?? "")
            call.dialogID = dialogID
            established[dialogID] = call
            var contact = core.endpoint.contact(for: incoming.peer, requestURI: request.uri)
            if call.isSIPREC { contact.parameters.append(SIPParameter("+sip.srs")) }
            var headers = [SIPHeaderField(name: .contact, value: contact.description),
                           SIPHeaderField(name: .contentType, value: "application/sdp")]
            headers += core.endpoint.capabilityHeaders().filter { $0.name != .accept }
            core.respond(to: incoming.key, status: 200, headers: headers, body: ByteBuffer(string: body.text))
        }
        pending[incoming.key] = call
        if configuration.answerDelay > .zero {
            pending[incoming.key]?.pendingAnswer = core.eventLoop.scheduleTask(in: .nanoseconds(configuration.answerDelay.nanosecondsValue)) {
                answer()
            }
        } else {
            answer()
        }
    }

    /// re-INVITE or UPDATE inside a dialog: answer a new offer with the ports already held,
    /// reserving ports for m-lines that were added.
    private func handleSessionUpdate(_ incoming: SIPIncomingRequest, core: SIPServerCore) {
        guard let dialogID = incoming.dialogID, var call = established[dialogID] else {
            core.respond(to: incoming.key, status: 481)
            return
        }
        let request = incoming.request
        switch Self.extractSDP(request) {
        case .none:
            if request.method == .invite {
                // A re-INVITE without SDP asks for our offer (RFC 3261 §14.2).
                call.sdpVersion += 1
                let port = call.ports.compactMap { $0 }.first ?? 0
                established[dialogID] = call
                core.respond(to: incoming.key, status: 200, headers: [SIPHeaderField(name: .contentType, value: "application/sdp")],
                             body: ByteBuffer(string: call.answerer.offer(port: port, version: call.sdpVersion).text))
            } else {
                core.respond(to: incoming.key, status: 200)
            }
        case .sdp(let offer):
            guard offer.media.count <= configuration.maxStreamsPerCall else {
                core.respond(to: incoming.key, status: 488, headers: [SIPHeaderField(name: .warning, value: "370 siprecd \"too many media streams\"")])
                return
            }
            for (index, media) in offer.media.enumerated() {
                if index < call.ports.count {
                    if call.ports[index] == nil, SDPAnswerer.isRecordable(media) { call.ports[index] = portPool.allocate() }
                } else {
                    call.ports.append(SDPAnswerer.isRecordable(media) ? portPool.allocate() : nil)
                }
            }
            call.sdpVersion += 1
            established[dialogID] = call
            let answer = call.answerer.answer(to: offer, ports: call.ports, version: call.sdpVersion)
            core.respond(to: incoming.key, status: 200, headers: [SIPHeaderField(name: .contentType, value: "application/sdp")],
                         body: ByteBuffer(string: answer.text))
        case .unreadable(let status, let warning):
            // A bad update must not cost the recording: refuse the update, keep the session.
            core.respond(to: incoming.key, status: status == 415 ? 415 : 488,
                         headers: [SIPHeaderField(name: .warning, value: "399 siprecd \"\(warning)\"")])
        }
    }

    private func release(_ call: Call) {
        for port in call.ports.compactMap({ $0 }) { portPool.release(port) }
    }

    private func answerAddress(_ incoming: SIPIncomingRequest) -> String {
        if let advertised = configuration.advertisedHost { return advertised }
        if let ip = incoming.peer.localAddress?.ipAddress, ip != "0.0.0.0", ip != "::" { return ip }
        return incoming.request.uri.hostWithoutBrackets
    }

    enum BodyContent {
        case none
        case sdp(SessionDescription)
        case unreadable(status: Int, warning: String)
    }

    /// Finds the SDP in a request: a plain application/sdp body or the SDP part of a
    /// multipart/mixed body (SIPREC). Other parts are left for the metadata layer.
    static func extractSDP(_ request: SIPRequest) -> BodyContent {
        guard let body = request.body, body.readableBytes > 0 else { return .none }
        let contentType = request.contentType ?? "application/sdp"
        let essence = MediaType.essence(contentType)
        var sdpBytes: ByteBuffer?
        if essence == "application/sdp" {
            sdpBytes = body
        } else if essence.hasPrefix("multipart/") {
            guard let parts = try? MultipartBody.split(body, contentType: contentType) else {
                return .unreadable(status: 400, warning: "multipart body could not be split")
            }
            sdpBytes = parts.first { $0.mediaType == "application/sdp" }?.body
            if sdpBytes == nil {
                // Metadata without SDP: nothing to record yet; answer with our offer.
                return parts.contains { $0.mediaType == "application/rs-metadata+xml" } ? .none
                    : .unreadable(status: 415, warning: "no application/sdp part")
            }
        } else if essence == "application/rs-metadata+xml" {
            return .none
        } else {
            return .unreadable(status: 415, warning: "unsupported body type")
        }
        guard let bytes = sdpBytes, let sdp = try? SessionDescription(parsing: String(buffer: bytes)) else {
            return .unreadable(status: 488, warning: "SDP could not be parsed")
        }
        return .sdp(sdp)
    }

    /// RFC 7866 §6.1.1: `Require: siprec` and/or `+sip.src` on the Contact; older SRCs put a
    /// bare `src` feature tag on the Contact, or only send an rs-metadata part.
    static func isSIPREC(_ request: SIPRequest) -> Bool {
        if request.optionTags(.require).contains("siprec") { return true }
        for contact in request.contacts where contact.parameters.has("+sip.src") || contact.parameters.has("src") {
            return true
        }
        if let type = request.contentType, MediaType.essence(type).hasPrefix("multipart/"), let body = request.body,
           let parts = try? MultipartBody.split(body, contentType: type) {
            return parts.contains { $0.mediaType == "application/rs-metadata+xml" }
        }
        return false
    }
}

extension Duration {
    var nanosecondsValue: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
