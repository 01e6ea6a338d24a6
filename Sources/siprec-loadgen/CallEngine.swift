import Foundation
import Media
#if canImport(Glibc)
import Glibc
#endif

/// Places the calls and runs their SIP: INVITE (retransmitted over UDP with RFC 3261 timer A,
/// given up after 64*T1 = 32 s), ACK, media, BYE. One scheduling loop (the caller's thread)
/// starts calls, retransmits and sends BYEs; the transport's thread delivers responses. Both
/// work under `lock`; the RTP sender has its own thread and a mailbox.
final class CallEngine: @unchecked Sendable {
    static let t1 = 0.5
    static let t2 = 4.0
    static let transactionTimeout = 64 * t1

    private enum LegState {
        case inviting, confirmed, failed, byeing, terminated
    }

    private enum Phase {
        /// INVITEs out, waiting for every leg's final response.
        case setup
        /// Answered; RTP flowing (or no stream accepted) until the BYE is due.
        case media
        /// BYE due; waiting for the RTP sender to stop the call's streams.
        case stopping
        /// BYEs out.
        case ending
        case done
    }

    private struct Transaction {
        var method: String
        var bytes: [UInt8]
        var firstSent: Double
        var nextSend: Double
        var interval: Double
        /// False once a provisional response arrived (INVITE) or on a reliable transport.
        var retransmitting: Bool
    }

    private final class Leg {
        let call: Int
        let callID: String
        let requestURI: String
        let from: String
        let to: String
        let inviteVia: String
        /// The To of the final response (with the server's tag), for ACK and BYE.
        var responseTo: String?
        var remoteTarget: String?
        var answer: SDPAnswer?
        var state = LegState.inviting
        var transaction: Transaction?
        /// The ACK that was sent, sent again for a retransmitted final response.
        var ack: [UInt8]?
        var failure: String?

        init(call: Int, callID: String, requestURI: String, from: String, to: String, inviteVia: String) {
            self.call = call
            self.callID = callID
            self.requestURI = requestURI
            self.from = from
            self.to = to
            self.inviteVia = inviteVia
        }
    }

    private final class Call {
        let index: Int
        var legs: [Leg] = []
        /// Streams in offer order; `leg` and `mline` say which INVITE and which m-line offered it;
        /// `key` is the SRTP key offered for it (nil: plain RTP).
        var streams: [(label: Int, leg: Int, mline: Int, fd: Int32, key: SRTPKey?, accepted: Bool)] = []
        var phase = Phase.setup
        var answerTime: Double?
        var firstRTPTime: Double?
        var byeTime: Double?
        var setupFailure: String?
        var callFailure: String?

        init(index: Int) { self.index = index }
    }

    private let plan: CallPlan
    private let transport: SIPTransport
    private let sender: RTPSender
    private let sharedRTPPort: UInt16?
    private let lock = NSLock()
    private let runID = SIPTokens.hex(bytes: 3)
    private let refciBase = Int.random(in: 10_000_000...80_000_000)

    private var calls: [Call] = []
    private var legsByCallID: [String: Leg] = [:]
    /// Legs with a transaction in progress, by Call-ID.
    private var pendingLegs: [String: Leg] = [:]
    private var byeSchedule = DeadlineHeap()
    private var finishedCalls = 0
    private var setupFailures: [String: Int] = [:]
    private var callFailures: [String: Int] = [:]
    private var streamsRefused = 0
    private var warnedMethods: Set<String> = []

    init(plan: CallPlan, transport: SIPTransport, sender: RTPSender, sharedRTPPort: UInt16?) {
        self.plan = plan
        self.transport = transport
        self.sender = sender
        self.sharedRTPPort = sharedRTPPort
    }

    /// Places every call and returns once each has ended (or failed).
    func run() -> EngineResults {
        transport.start { [self] message, source in receive(message, from: source) }
        let start = Clock.now()
        var placed = 0
        var nextProgress = start + 5
        while true {
            let now = Clock.now()
            let finished: Bool = lock.withLock {
                // Calls are spread evenly: call i at start + i / rate.
                while placed < plan.calls && start + Double(placed) / plan.rate <= now {
                    place(placed, now: now)
                    placed += 1
                }
                serviceTransactions(now: now)
                apply(sender.takeEvents(), now: now)
                while let due = byeSchedule.popDue(now) { byeDue(calls[due], now: now) }
                return placed == plan.calls && finishedCalls == plan.calls
            }
            if finished { break }
            if plan.progress && now >= nextProgress {
                nextProgress += 5
                printProgress(elapsed: now - start, placed: placed)
            }
            Clock.sleep(seconds: 0.002)
        }
        return lock.withLock {
            EngineResults(outcomes: calls.map(outcome), callsPlaced: placed, setupFailures: setupFailures,
                          callFailures: callFailures, streamsRefused: streamsRefused, elapsed: Clock.now() - start)
        }
    }

    private func printProgress(elapsed: Double, placed: Int) {
        let (active, failed, failures) = lock.withLock {
            (calls.filter { $0.phase == .media || $0.phase == .stopping }.count,
             setupFailures.values.reduce(0, +), callFailures.values.reduce(0, +))
        }
        let stats = sender.stats
        Log.info(String(format: "[%4.0fs] placed %d/%d, in media %d, setup failures %d, call failures %d, streams %d, packets %d, late ticks %d",
                        elapsed, placed, plan.calls, active, failed, failures, stats.activeStreams, stats.packets, stats.lateTicks))
    }

    private func outcome(_ call: Call) -> CallOutcome {
        CallOutcome(index: call.index, callIDs: call.legs.map(\.callID), mode: plan.mode, answerTime: call.answerTime,
                    firstRTPTime: call.firstRTPTime, byeTime: call.byeTime,
                    streams: call.streams.map { CallOutcome.Stream(label: $0.label, accepted: $0.accepted) },
                    setupFailure: call.setupFailure, callFailure: call.callFailure)
    }

    // MARK: - Placing calls

    private func place(_ index: Int, now: Double) {
        let call = Call(index: index)
        calls.append(call)
        // Labels per leg: SIPREC one leg with every stream; bib one stream per leg.
        let legLabels: [[Int]] = plan.mode == .siprec ? [Array(1...plan.streams)] : [[1], [2]]
        var ports: [[UInt16]] = []
        var keys: [[SRTPKey?]] = []
        for (legIndex, labels) in legLabels.enumerated() {
            var legPorts: [UInt16] = []
            var legKeys: [SRTPKey?] = []
            for (mline, label) in labels.enumerated() {
                var fd: Int32 = -1
                var port = sharedRTPPort ?? 0
                if sharedRTPPort == nil {
                    do {
                        (fd, port) = try Sockets.udp(bindIP: plan.localIP)
                    } catch {
                        Log.warning("call \(index): no RTP socket: \(error)")
                        call.streams.forEach { if $0.fd >= 0 { close($0.fd) } }
                        call.streams = []
                        failSetup(call, reason: "local-socket")
                        return
                    }
                }
                // A fresh key per stream; tag 1, the only crypto line of its m-line.
                let key = plan.srtp.map { SRTPKey.random(tag: 1, suite: $0) }
                call.streams.append((label, legIndex, mline, fd, key, false))
                legPorts.append(port)
                legKeys.append(key)
            }
            ports.append(legPorts)
            keys.append(legKeys)
        }

        let target = plan.target
        let uriSuffix = transport.agent.transport == .tcp ? ";transport=tcp" : ""
        for (legIndex, labels) in legLabels.enumerated() {
            let requestURI: String
            let from: String
            var extra: [(String, String)] = []
            let contentType: String
            let body: String
            let sdp = OfferBodies.sdp(ip: plan.localIP, ports: ports[legIndex], labels: plan.mode == .siprec ? labels : nil,
                                       keys: keys[legIndex])
            var contact = "<\(transport.agent.contactURI)>"
            let callID: String
            switch plan.mode {
            case .siprec:
                callID = "lg-\(runID)-\(index)@\(plan.localIP)"
                requestURI = "sip:srs@\(target)\(uriSuffix)"
                from = "<sip:src@example.com>;tag=\(SIPTokens.tag())"
                contact += ";+sip.src"
                extra.append(("Require", "siprec"))
                (contentType, body) = OfferBodies.siprecMultipart(sdp: sdp, metadata: OfferBodies.metadata(streams: plan.streams))
            case .bib:
                let nearEnd = legIndex == 0
                callID = "lg-\(runID)-\(index)-\(nearEnd ? "near" : "far")@\(plan.localIP)"
                requestURI = "sip:recorder@\(target)\(uriSuffix)"
                from = OfferBodies.builtInBridgeFrom(nearEnd: nearEnd, refci: String(refciBase + 2 * index),
                                                     farEndRefci: String(refciBase + 2 * index + 1), tag: SIPTokens.tag())
                (contentType, body) = ("application/sdp", sdp)
            }
            let to = plan.mode == .siprec ? "<sip:srs@\(target)>" : "<sip:recorder@\(target)>"
            let via = via(branch: SIPTokens.branch())
            let leg = Leg(call: index, callID: callID, requestURI: requestURI, from: from, to: to, inviteVia: via)
            call.legs.append(leg)
            legsByCallID[callID] = leg
            let headers: [(String, String)] = [
                ("Via", via), ("Max-Forwards", "70"), ("From", from), ("To", to), ("Call-ID", callID),
                ("CSeq", "1 INVITE"), ("Contact", contact),
            ] + extra + [("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS"), ("User-Agent", "siprec-loadgen")]
            let invite = SIPWriter.request(method: "INVITE", uri: requestURI, headers: headers, contentType: contentType, body: body)
            begin(leg, method: "INVITE", bytes: invite, now: now)
        }
    }

    private func via(branch: String) -> String {
        "\(transport.agent.viaSentBy);branch=\(branch)" + (transport.agent.transport == .udp ? ";rport" : "")
    }

    // MARK: - Transactions

    private func begin(_ leg: Leg, method: String, bytes: [UInt8], now: Double) {
        transport.send(bytes, to: nil)
        let reliable = transport.agent.transport == .tcp
        leg.transaction = Transaction(method: method, bytes: bytes, firstSent: now, nextSend: now + Self.t1,
                                      interval: Self.t1, retransmitting: !reliable)
        pendingLegs[leg.callID] = leg
    }

    private func endTransaction(_ leg: Leg) {
        leg.transaction = nil
        pendingLegs[leg.callID] = nil
    }

    /// Retransmissions (timer A for INVITE doubles without bound, timer E for BYE caps at T2)
    /// and the 32 s timeouts (timers B and F).
    private func serviceTransactions(now: Double) {
        for leg in Array(pendingLegs.values) {
            guard var transaction = leg.transaction else { continue }
            if now - transaction.firstSent >= Self.transactionTimeout {
                endTransaction(leg)
                if transaction.method == "INVITE" {
                    leg.state = .failed
                    leg.failure = "timeout"
                    evaluateSetup(calls[leg.call], now: now)
                } else {
                    leg.state = .terminated
                    noteCallFailure(calls[leg.call], "bye-timeout")
                    checkDone(calls[leg.call])
                }
                continue
            }
            if transaction.retransmitting && now >= transaction.nextSend {
                transport.send(transaction.bytes, to: nil)
                transaction.interval = transaction.method == "INVITE" ? transaction.interval * 2 : min(transaction.interval * 2, Self.t2)
                transaction.nextSend = now + transaction.interval
                leg.transaction = transaction
            }
        }
    }

    // MARK: - Incoming messages

    private func receive(_ message: SIPMessage, from source: Endpoint) {
        let now = Clock.now()
        lock.withLock {
            if message.isResponse {
                handleResponse(message, now: now)
            } else {
                handleRequest(message, from: source, now: now)
            }
        }
    }

    private func handleResponse(_ response: SIPMessage, now: Double) {
        guard let status = response.status, let callID = response.callID, let cseq = response.cseq,
              let leg = legsByCallID[callID] else { return }
        switch cseq.method {
        case "INVITE" where cseq.number == 1:
            handleInviteResponse(leg, response, status: status, now: now)
        case "BYE" where cseq.number == 2:
            guard status >= 200, leg.state == .byeing else { return }
            endTransaction(leg)
            leg.state = .terminated
            if status >= 300 { noteCallFailure(calls[leg.call], "bye-status-\(status)") }
            checkDone(calls[leg.call])
        default:
            break
        }
    }

    private func handleInviteResponse(_ leg: Leg, _ response: SIPMessage, status: Int, now: Double) {
        if status < 200 {
            // Proceeding: the server has the INVITE, stop retransmitting (timer B still runs).
            if leg.state == .inviting { leg.transaction?.retransmitting = false }
            return
        }
        guard leg.state == .inviting else {
            // A retransmitted final response: our ACK was lost.
            if let ack = leg.ack { transport.send(ack, to: nil) }
            return
        }
        endTransaction(leg)
        let to = response.header("to") ?? leg.to
        leg.responseTo = to
        if status < 300 {
            leg.remoteTarget = response.contactURI ?? leg.requestURI
            leg.answer = response.sdp.map(SDPAnswer.init)
            // ACK of a 2xx: its own transaction, new branch, sent to the remote target.
            let ack = SIPWriter.request(method: "ACK", uri: leg.remoteTarget!, headers: [
                ("Via", via(branch: SIPTokens.branch())), ("Max-Forwards", "70"), ("From", leg.from), ("To", to),
                ("Call-ID", leg.callID), ("CSeq", "1 ACK"),
            ])
            transport.send(ack, to: nil)
            leg.ack = ack
            leg.state = .confirmed
            let call = calls[leg.call]
            if call.answerTime == nil { call.answerTime = now }
        } else {
            // ACK of a non-2xx final response: part of the INVITE transaction, same branch (17.1.1.3).
            let ack = SIPWriter.request(method: "ACK", uri: leg.requestURI, headers: [
                ("Via", leg.inviteVia), ("Max-Forwards", "70"), ("From", leg.from), ("To", to),
                ("Call-ID", leg.callID), ("CSeq", "1 ACK"),
            ])
            transport.send(ack, to: nil)
            leg.ack = ack
            leg.state = .failed
            leg.failure = "status-\(status)"
        }
        evaluateSetup(calls[leg.call], now: now)
    }

    private func handleRequest(_ request: SIPMessage, from source: Endpoint, now: Double) {
        guard let method = request.method else { return }
        switch method {
        case "ACK":
            return
        case "OPTIONS":
            transport.send(SIPWriter.response(to: request, status: 200, reason: "OK"), to: source)
        case "BYE":
            guard let callID = request.callID, let leg = legsByCallID[callID] else {
                transport.send(SIPWriter.response(to: request, status: 481, reason: "Call/Transaction Does Not Exist"), to: source)
                return
            }
            transport.send(SIPWriter.response(to: request, status: 200, reason: "OK"), to: source)
            remoteBye(leg, now: now)
        default:
            if warnedMethods.insert(method).inserted {
                Log.warning("the target sent \(method); answering 501 (not simulated)")
            }
            transport.send(SIPWriter.response(to: request, status: 501, reason: "Not Implemented"), to: source)
        }
    }

    /// The server ended a dialog: stop the call's media now and BYE its other legs.
    private func remoteBye(_ leg: Leg, now: Double) {
        guard leg.state == .confirmed || leg.state == .byeing else { return }
        let call = calls[leg.call]
        endTransaction(leg)
        leg.state = .terminated
        noteCallFailure(call, "remote-bye")
        switch call.phase {
        case .media:
            byeDue(call, now: now)
        case .setup, .stopping, .ending, .done:
            checkDone(call)
        }
    }

    // MARK: - Call progress

    /// Once every leg has its final response: start the media, or give up on the call.
    private func evaluateSetup(_ call: Call, now: Double) {
        guard call.phase == .setup, call.legs.allSatisfy({ $0.state != .inviting }) else { return }
        // A leg the server hung up before its partner was answered counts as failed too.
        if let failed = call.legs.first(where: { $0.state == .failed || $0.state == .terminated }) {
            failSetup(call, reason: failed.failure ?? "remote-bye")
            return
        }
        // SRTP offered: every stream the server took must be SDES-SRTP with our tag and suite,
        // or the server would not decrypt what we send.
        for stream in call.streams {
            guard let key = stream.key, let answer = call.legs[stream.leg].answer,
                  answer.destination(ofStream: stream.mline) != nil else { continue }
            if !answer.acceptsSRTP(ofStream: stream.mline, offered: key) {
                failSetup(call, reason: "srtp-refused")
                return
            }
        }
        var specs: [RTPSender.StreamSpec] = []
        for index in call.streams.indices {
            let stream = call.streams[index]
            let destination = call.legs[stream.leg].answer?.destination(ofStream: stream.mline)
            guard let destination else {
                streamsRefused += 1
                if stream.fd >= 0 { close(stream.fd) }
                call.streams[index].fd = -1
                continue
            }
            if stream.fd >= 0 {
                do {
                    try Sockets.connect(stream.fd, to: destination)
                } catch {
                    Log.warning("call \(call.index): \(error)")
                }
            }
            call.streams[index].accepted = true
            specs.append(RTPSender.StreamSpec(fd: stream.fd, destination: destination, tone: stream.label - 1, srtp: stream.key))
        }
        call.phase = .media
        // The sender owns the sockets from here on and closes them when the call stops.
        if !specs.isEmpty { sender.startCall(call.index, streams: specs) }
        byeSchedule.push((call.answerTime ?? now) + plan.duration, call.index)
    }

    private func failSetup(_ call: Call, reason: String) {
        call.setupFailure = reason
        setupFailures[reason, default: 0] += 1
        for index in call.streams.indices where call.streams[index].fd >= 0 {
            close(call.streams[index].fd)
            call.streams[index].fd = -1
        }
        // A Built-in-Bridge leg that was answered while its partner failed is hung up at once.
        call.phase = .ending
        sendByes(call, now: Clock.now(), stampByeTime: false)
        checkDone(call)
    }

    private func byeDue(_ call: Call, now: Double) {
        guard call.phase == .media else { return }
        if call.streams.contains(where: \.accepted) {
            // BYE once the sender confirms the streams stopped, so no packet follows the BYE.
            call.phase = .stopping
            sender.stopCall(call.index)
        } else {
            call.phase = .ending
            sendByes(call, now: now, stampByeTime: true)
            checkDone(call)
        }
    }

    private func apply(_ events: RTPSender.Events, now: Double) {
        for (index, time) in events.started { calls[index].firstRTPTime = time }
        for index in events.stopped {
            let call = calls[index]
            guard call.phase == .stopping else { continue }
            call.phase = .ending
            sendByes(call, now: now, stampByeTime: true)
            checkDone(call)
        }
    }

    private func sendByes(_ call: Call, now: Double, stampByeTime: Bool) {
        if stampByeTime && call.byeTime == nil { call.byeTime = now }
        for leg in call.legs where leg.state == .confirmed {
            let bye = SIPWriter.request(method: "BYE", uri: leg.remoteTarget ?? leg.requestURI, headers: [
                ("Via", via(branch: SIPTokens.branch())), ("Max-Forwards", "70"), ("From", leg.from),
                ("To", leg.responseTo ?? leg.to), ("Call-ID", leg.callID), ("CSeq", "2 BYE"), ("User-Agent", "siprec-loadgen"),
            ])
            leg.state = .byeing
            begin(leg, method: "BYE", bytes: bye, now: now)
        }
    }

    private func noteCallFailure(_ call: Call, _ reason: String) {
        guard call.callFailure == nil, call.setupFailure == nil else { return }
        call.callFailure = reason
        callFailures[reason, default: 0] += 1
    }

    private func checkDone(_ call: Call) {
        guard call.phase == .ending,
              call.legs.allSatisfy({ $0.state == .terminated || $0.state == .failed }) else { return }
        call.phase = .done
        finishedCalls += 1
    }
}
