import Foundation
import Media
import SIPLocator
#if canImport(Glibc)
import Glibc
#endif

/// Places the calls and runs their SIP: INVITE (retransmitted over UDP with RFC 3261 timer A,
/// given up after 64*T1 = 32 s), ACK, media, BYE. One scheduling loop (the caller's thread)
/// starts calls, retransmits, pings and sends BYEs; the transport's thread delivers responses.
/// Both work under `lock`; the RTP sender has its own thread and a mailbox.
///
/// Several targets behave like an SBC's recorder group: a call goes to the first target that is
/// up; a 503, a transport error or no response within `failoverTimeout` moves it to the next
/// (RFC 3263 §4.3: a new INVITE transaction, same Call-ID, From tag and CSeq). A Built-in-Bridge
/// call's two legs move together, so both reach the same recorder. With `optionsInterval` set,
/// OPTIONS pings keep each target's state (`TargetHealth`).
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
        var branch: String
        var bytes: [UInt8]
        var destination: Endpoint
        var firstSent: Double
        var nextSend: Double
        var interval: Double
        /// False once a provisional response arrived (INVITE) or on a reliable transport.
        var retransmitting: Bool
        /// INVITE: with no response at all by then, the call moves to the next target (the
        /// SBC's short failover timer); a provisional response clears it.
        var failoverDeadline: Double?
    }

    /// What an INVITE of a leg carries, kept to send it again to another target.
    private struct Offer {
        /// User part of the Request-URI and To ("srs", "recorder").
        var user: String
        var contentType: String
        var body: String
        var extraHeaders: [(String, String)]
        /// Contact header parameters (";+sip.src").
        var contactParameters: String
    }

    private final class Leg {
        let call: Int
        let callID: String
        let from: String
        let offer: Offer
        /// The target (index into the plan's) of the current INVITE, and how we appear to it.
        var target = 0
        var agent: LocalAgent?
        var requestURI = ""
        var to = ""
        var inviteVia = ""
        /// The To of the final response (with the server's tag), for ACK and BYE.
        var responseTo: String?
        var remoteTarget: String?
        var answer: SDPAnswer?
        var state = LegState.inviting
        var transaction: Transaction?
        /// The ACK that was sent, sent again for a retransmitted final response.
        var ack: [UInt8]?
        var failure: String?
        /// Whether the failure moves the call to the next target (RFC 3263 §4.3).
        var failsOver = false

        init(call: Int, callID: String, from: String, offer: Offer) {
            self.call = call
            self.callID = callID
            self.from = from
            self.offer = offer
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
        /// The target its legs are at, and those tried so far.
        var target: Int?
        var tried: Set<Int> = []
        var failovers = 0
        var answered = false

        init(index: Int) { self.index = index }
    }

    /// An OPTIONS ping in flight.
    private struct Ping {
        var target: Int
        var transaction: Transaction
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

    private var health: TargetHealth
    private var targetStats: [TargetStats]
    private var failovers = 0
    /// BYEs for dialogs left behind on a target the call moved away from, by branch.
    private var detached: [String: Transaction] = [:]
    /// ACKs of 2xx answers from an abandoned attempt, by that INVITE's branch (a retransmitted
    /// 2xx is ACKed again, not hung up twice).
    private var abandonedAnswers: [String: [UInt8]] = [:]
    private var strayAnswersEnded = 0
    private var pings: [String: Ping] = [:]
    private var pingInFlight: Set<Int> = []
    private var nextPing: [Double]
    private var pingSequence = 0

    init(plan: CallPlan, transport: SIPTransport, sender: RTPSender, sharedRTPPort: UInt16?) {
        self.plan = plan
        self.transport = transport
        self.sender = sender
        self.sharedRTPPort = sharedRTPPort
        health = TargetHealth(targets: plan.targets.count)
        targetStats = plan.targets.map { TargetStats(target: $0) }
        nextPing = Array(repeating: 0, count: plan.targets.count)
    }

    /// How long a ping may go unanswered before its target counts as down.
    private var pingTimeout: Double { plan.failoverTimeout > 0 ? plan.failoverTimeout : Self.transactionTimeout }

    /// Places every call and returns once each has ended (or failed).
    func run() -> EngineResults {
        transport.start { [self] message, source in receive(message, from: source) }
        let start = Clock.now()
        var placed = 0
        var nextProgress = start + 5
        while true {
            let now = Clock.now()
            let finished: Bool = lock.withLock {
                servicePings(now: now)
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
                          callFailures: callFailures, streamsRefused: streamsRefused, elapsed: Clock.now() - start,
                          targets: targetStats, failovers: failovers, callsFailedOver: calls.filter { $0.failovers > 0 }.count,
                          strayAnswersEnded: strayAnswersEnded)
        }
    }

    private func printProgress(elapsed: Double, placed: Int) {
        let (active, failed, failures, moved) = lock.withLock {
            (calls.filter { $0.phase == .media || $0.phase == .stopping }.count,
             setupFailures.values.reduce(0, +), callFailures.values.reduce(0, +), failovers)
        }
        let stats = sender.stats
        Log.info(String(format: "[%4.0fs] placed %d/%d, in media %d, setup failures %d, call failures %d, failovers %d, streams %d, packets %d, late ticks %d",
                        elapsed, placed, plan.calls, active, failed, failures, moved, stats.activeStreams, stats.packets, stats.lateTicks))
    }

    private func outcome(_ call: Call) -> CallOutcome {
        CallOutcome(index: call.index, callIDs: call.legs.map(\.callID), mode: plan.mode, answerTime: call.answerTime,
                    firstRTPTime: call.firstRTPTime, byeTime: call.byeTime,
                    streams: call.streams.map { CallOutcome.Stream(label: $0.label, accepted: $0.accepted) },
                    setupFailure: call.setupFailure, callFailure: call.callFailure,
                    target: call.answered ? call.target.map { plan.targets[$0] } : nil, failovers: call.failovers)
    }

    // MARK: - Placing calls

    private func place(_ index: Int, now: Double) {
        let call = Call(index: index)
        calls.append(call)
        // Like an SBC whose every recorder is busied out by its pings: no route.
        guard let target = health.first() else {
            failSetup(call, reason: "no-target-up")
            return
        }
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

        for (legIndex, labels) in legLabels.enumerated() {
            let from: String
            var extra: [(String, String)] = []
            let contentType: String
            let body: String
            let sdp = OfferBodies.sdp(ip: plan.localIP, ports: ports[legIndex], labels: plan.mode == .siprec ? labels : nil,
                                       keys: keys[legIndex])
            let callID: String
            let offer: Offer
            switch plan.mode {
            case .siprec:
                callID = "lg-\(runID)-\(index)@\(plan.localIP)"
                from = "<sip:src@example.com>;tag=\(SIPTokens.tag())"
                extra.append(("Require", "siprec"))
                (contentType, body) = OfferBodies.siprecMultipart(sdp: sdp, metadata: OfferBodies.metadata(streams: plan.streams))
                offer = Offer(user: "srs", contentType: contentType, body: body, extraHeaders: extra, contactParameters: ";+sip.src")
            case .bib:
                let nearEnd = legIndex == 0
                callID = "lg-\(runID)-\(index)-\(nearEnd ? "near" : "far")@\(plan.localIP)"
                from = OfferBodies.builtInBridgeFrom(nearEnd: nearEnd, refci: String(refciBase + 2 * index),
                                                     farEndRefci: String(refciBase + 2 * index + 1), tag: SIPTokens.tag())
                offer = Offer(user: "recorder", contentType: "application/sdp", body: sdp, extraHeaders: [], contactParameters: "")
            }
            let leg = Leg(call: index, callID: callID, from: from, offer: offer)
            call.legs.append(leg)
            legsByCallID[callID] = leg
        }
        call.target = target
        call.tried = [target]
        for leg in call.legs { sendInvite(leg, target: target, now: now) }
        evaluateSetup(call, now: now)
    }

    /// A new INVITE transaction for `leg` to `target`: new branch; Call-ID, From tag, CSeq and
    /// body as before (RFC 3263 §4.3).
    private func sendInvite(_ leg: Leg, target: Int, now: Double) {
        let endpoint = plan.targets[target]
        leg.target = target
        leg.state = .inviting
        leg.failure = nil
        leg.failsOver = false
        leg.responseTo = nil
        leg.remoteTarget = nil
        leg.answer = nil
        leg.ack = nil
        targetStats[target].attempts += 1
        guard let agent = transport.agent(for: endpoint) else {
            failInvite(leg, reason: "transport-error", failsOver: true)
            return
        }
        leg.agent = agent
        let uriSuffix = agent.transport == .tcp ? ";transport=tcp" : ""
        leg.requestURI = "sip:\(leg.offer.user)@\(endpoint)\(uriSuffix)"
        leg.to = "<sip:\(leg.offer.user)@\(endpoint)>"
        let branch = SIPTokens.branch()
        leg.inviteVia = via(agent, branch: branch)
        let headers: [(String, String)] = [
            ("Via", leg.inviteVia), ("Max-Forwards", "70"), ("From", leg.from), ("To", leg.to), ("Call-ID", leg.callID),
            ("CSeq", "1 INVITE"), ("Contact", "<\(agent.contactURI)>" + leg.offer.contactParameters),
        ] + leg.offer.extraHeaders + [("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS"), ("User-Agent", "siprec-loadgen")]
        let invite = SIPWriter.request(method: "INVITE", uri: leg.requestURI, headers: headers, contentType: leg.offer.contentType,
                                       body: leg.offer.body)
        if !begin(leg, method: "INVITE", branch: branch, bytes: invite, to: endpoint, now: now) {
            endTransaction(leg)
            failInvite(leg, reason: "transport-error", failsOver: true)
        }
    }

    private func via(_ agent: LocalAgent, branch: String) -> String {
        "\(agent.viaSentBy);branch=\(branch)" + (agent.transport == .udp ? ";rport" : "")
    }

    // MARK: - Transactions

    /// Sends a leg's request and keeps its transaction; false when the transport refused it.
    private func begin(_ leg: Leg, method: String, branch: String, bytes: [UInt8], to destination: Endpoint, now: Double) -> Bool {
        let sent = transport.send(bytes, to: destination)
        let reliable = transport.kind == .tcp
        let failoverDeadline = method == "INVITE" && plan.failoverTimeout > 0 ? now + plan.failoverTimeout : nil
        leg.transaction = Transaction(method: method, branch: branch, bytes: bytes, destination: destination, firstSent: now,
                                      nextSend: now + Self.t1, interval: Self.t1, retransmitting: !reliable,
                                      failoverDeadline: failoverDeadline)
        pendingLegs[leg.callID] = leg
        return sent
    }

    private func endTransaction(_ leg: Leg) {
        leg.transaction = nil
        pendingLegs[leg.callID] = nil
    }

    /// Retransmissions (timer A for INVITE doubles without bound, timer E for BYE and OPTIONS
    /// caps at T2), the failover timer and the 32 s timeouts (timers B and F).
    private func serviceTransactions(now: Double) {
        for leg in Array(pendingLegs.values) {
            guard var transaction = leg.transaction else { continue }
            if let deadline = transaction.failoverDeadline, now >= deadline {
                endTransaction(leg)
                failInvite(leg, reason: "timeout", failsOver: true)
                evaluateSetup(calls[leg.call], now: now)
                continue
            }
            if now - transaction.firstSent >= Self.transactionTimeout {
                endTransaction(leg)
                if transaction.method == "INVITE" {
                    failInvite(leg, reason: "timeout", failsOver: true)
                    evaluateSetup(calls[leg.call], now: now)
                } else {
                    leg.state = .terminated
                    noteCallFailure(calls[leg.call], "bye-timeout")
                    checkDone(calls[leg.call])
                }
                continue
            }
            if transaction.retransmitting && now >= transaction.nextSend {
                retransmit(&transaction, now: now)
                leg.transaction = transaction
            }
        }
        for (branch, var transaction) in detached {
            if now - transaction.firstSent >= Self.transactionTimeout {
                detached[branch] = nil
            } else if transaction.retransmitting && now >= transaction.nextSend {
                retransmit(&transaction, now: now)
                detached[branch] = transaction
            }
        }
    }

    private func retransmit(_ transaction: inout Transaction, now: Double) {
        transport.send(transaction.bytes, to: transaction.destination)
        transaction.interval = transaction.method == "INVITE" ? transaction.interval * 2 : min(transaction.interval * 2, Self.t2)
        transaction.nextSend = now + transaction.interval
    }

    private func failInvite(_ leg: Leg, reason: String, failsOver: Bool) {
        leg.state = .failed
        leg.failure = reason
        leg.failsOver = failsOver
    }

    // MARK: - OPTIONS pings

    /// Pings each target every `optionsInterval` seconds (one at a time per target) and ends
    /// pings unanswered for `pingTimeout`.
    private func servicePings(now: Double) {
        guard plan.optionsInterval > 0 else { return }
        for target in plan.targets.indices where !pingInFlight.contains(target) && now >= nextPing[target] {
            sendPing(target, now: now)
        }
        for (callID, var ping) in pings {
            if now - ping.transaction.firstSent >= pingTimeout {
                pings[callID] = nil
                pingInFlight.remove(ping.target)
                probe(ping.target, .timeout)
            } else if ping.transaction.retransmitting && now >= ping.transaction.nextSend {
                retransmit(&ping.transaction, now: now)
                pings[callID] = ping
            }
        }
    }

    private func sendPing(_ target: Int, now: Double) {
        nextPing[target] = now + plan.optionsInterval
        let endpoint = plan.targets[target]
        guard let agent = transport.agent(for: endpoint) else {
            probe(target, .transportError)
            return
        }
        pingSequence += 1
        let callID = "lg-\(runID)-options-\(target)-\(pingSequence)@\(plan.localIP)"
        let branch = SIPTokens.branch()
        let uri = "sip:\(endpoint)" + (agent.transport == .tcp ? ";transport=tcp" : "")
        let options = SIPWriter.request(method: "OPTIONS", uri: uri, headers: [
            ("Via", via(agent, branch: branch)), ("Max-Forwards", "70"), ("From", "<sip:src@example.com>;tag=\(SIPTokens.tag())"),
            ("To", "<\(uri)>"), ("Call-ID", callID), ("CSeq", "1 OPTIONS"), ("Contact", "<\(agent.contactURI)>"),
            ("Accept", "application/sdp"), ("User-Agent", "siprec-loadgen"),
        ])
        guard transport.send(options, to: endpoint) else {
            probe(target, .transportError)
            return
        }
        pings[callID] = Ping(target: target, transaction: Transaction(
            method: "OPTIONS", branch: branch, bytes: options, destination: endpoint, firstSent: now, nextSend: now + Self.t1,
            interval: Self.t1, retransmitting: transport.kind == .udp, failoverDeadline: nil))
        pingInFlight.insert(target)
    }

    private func probe(_ target: Int, _ result: TargetHealth.Probe) {
        guard health.record(result, target: target) else { return }
        let up = health.up[target]
        targetStats[target].up = up
        if !up { targetStats[target].markedDown += 1 }
        if plan.progress {
            let why: String
            switch result {
            case .response(let status): why = "OPTIONS answered \(status)"
            case .timeout: why = "OPTIONS unanswered"
            case .transportError: why = "transport error"
            }
            Log.info("target \(plan.targets[target]) \(up ? "up" : "down") (\(why))")
        }
    }

    // MARK: - Incoming messages

    private func receive(_ message: SIPMessage, from source: Endpoint) {
        let now = Clock.now()
        lock.withLock {
            if message.isResponse {
                handleResponse(message, from: source, now: now)
            } else {
                handleRequest(message, from: source, now: now)
            }
        }
    }

    private func handleResponse(_ response: SIPMessage, from source: Endpoint, now: Double) {
        guard let status = response.status, let callID = response.callID, let cseq = response.cseq else { return }
        let branch = response.topViaBranch
        if let branch, detached[branch] != nil {
            if status >= 200 { detached[branch] = nil }
            return
        }
        if cseq.method == "OPTIONS" {
            guard status >= 200, let ping = pings.removeValue(forKey: callID) else { return }
            pingInFlight.remove(ping.target)
            probe(ping.target, .response(status: status))
            return
        }
        guard let leg = legsByCallID[callID] else { return }
        switch cseq.method {
        case "INVITE" where cseq.number == 1:
            if let branch, branch != SIPMessage.branch(ofVia: leg.inviteVia) {
                abandonedAttemptResponse(leg, response, status: status, from: source, now: now)
                return
            }
            handleInviteResponse(leg, response, status: status, now: now)
        case "BYE" where cseq.number == 2:
            guard status >= 200, leg.state == .byeing, branch == nil || branch == leg.transaction?.branch else { return }
            endTransaction(leg)
            leg.state = .terminated
            if status >= 300 { noteCallFailure(calls[leg.call], "bye-status-\(status)") }
            checkDone(calls[leg.call])
        default:
            break
        }
    }

    private func handleInviteResponse(_ leg: Leg, _ response: SIPMessage, status: Int, now: Double) {
        let destination = plan.targets[leg.target]
        if status < 200 {
            // Proceeding: the server has the INVITE, stop retransmitting and do not fail over
            // on the short timer (timer B still runs).
            if leg.state == .inviting {
                leg.transaction?.retransmitting = false
                leg.transaction?.failoverDeadline = nil
            }
            return
        }
        guard leg.state == .inviting, let agent = leg.agent else {
            // A retransmitted final response: our ACK was lost.
            if let ack = leg.ack { transport.send(ack, to: destination) }
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
                ("Via", via(agent, branch: SIPTokens.branch())), ("Max-Forwards", "70"), ("From", leg.from), ("To", to),
                ("Call-ID", leg.callID), ("CSeq", "1 ACK"),
            ])
            transport.send(ack, to: destination)
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
            transport.send(ack, to: destination)
            leg.ack = ack
            failInvite(leg, reason: "status-\(status)", failsOver: TargetHealth.failsOver(.response(status: status)))
        }
        evaluateSetup(calls[leg.call], now: now)
    }

    /// A response to an INVITE the call has moved away from. A final one is ACKed; a 2xx (a
    /// target that answered after its failover timer) is also hung up at once, so it does not
    /// record a call nobody sends media to.
    private func abandonedAttemptResponse(_ leg: Leg, _ response: SIPMessage, status: Int, from source: Endpoint, now: Double) {
        guard status >= 200, let branch = response.topViaBranch else { return }
        let to = response.header("to") ?? leg.to
        if status >= 300 {
            guard let via = response.headers("via").first else { return }
            let uri = "sip:\(leg.offer.user)@\(source)" + (transport.kind == .tcp ? ";transport=tcp" : "")
            transport.send(SIPWriter.request(method: "ACK", uri: uri, headers: [
                ("Via", via), ("Max-Forwards", "70"), ("From", leg.from), ("To", to), ("Call-ID", leg.callID), ("CSeq", "1 ACK"),
            ]), to: source)
            return
        }
        if let ack = abandonedAnswers[branch] {
            transport.send(ack, to: source)
            return
        }
        guard let agent = transport.agent(for: source) else { return }
        let remoteTarget = response.contactURI ?? "sip:\(leg.offer.user)@\(source)"
        let ack = SIPWriter.request(method: "ACK", uri: remoteTarget, headers: [
            ("Via", via(agent, branch: SIPTokens.branch())), ("Max-Forwards", "70"), ("From", leg.from), ("To", to),
            ("Call-ID", leg.callID), ("CSeq", "1 ACK"),
        ])
        transport.send(ack, to: source)
        abandonedAnswers[branch] = ack
        sendDetachedBye(callID: leg.callID, from: leg.from, to: to, uri: remoteTarget, agent: agent, destination: source, now: now)
        strayAnswersEnded += 1
    }

    /// A BYE for a dialog the call left behind; retransmitted until answered or timer F.
    private func sendDetachedBye(callID: String, from: String, to: String, uri: String, agent: LocalAgent, destination: Endpoint, now: Double) {
        let branch = SIPTokens.branch()
        let bye = SIPWriter.request(method: "BYE", uri: uri, headers: [
            ("Via", via(agent, branch: branch)), ("Max-Forwards", "70"), ("From", from), ("To", to), ("Call-ID", callID),
            ("CSeq", "2 BYE"), ("Reason", "SIP;cause=503;text=\"failed over\""), ("User-Agent", "siprec-loadgen"),
        ])
        transport.send(bye, to: destination)
        detached[branch] = Transaction(method: "BYE", branch: branch, bytes: bye, destination: destination, firstSent: now,
                                       nextSend: now + Self.t1, interval: Self.t1, retransmitting: transport.kind == .udp,
                                       failoverDeadline: nil)
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
            // A dialog the call left behind on another target shares the Call-ID: the server's
            // tag tells them apart.
            let serverTag = request.header("from").flatMap(SIPMessage.tag(of:))
            guard serverTag == nil || serverTag == leg.responseTo.flatMap(SIPMessage.tag(of:)) else { return }
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

    /// Once every leg has its final response: start the media, move the call to the next
    /// target, or give up on it.
    private func evaluateSetup(_ call: Call, now: Double) {
        guard call.phase == .setup, call.legs.allSatisfy({ $0.state != .inviting }) else { return }
        // A leg the server hung up before its partner was answered counts as failed too.
        if let failed = call.legs.first(where: { $0.state == .failed || $0.state == .terminated }) {
            let movable = call.legs.allSatisfy { $0.state == .confirmed || ($0.state == .failed && $0.failsOver) }
            if movable, let current = call.target, let next = health.next(after: current, tried: call.tried) {
                failover(call, from: current, to: next, now: now)
            } else {
                failSetup(call, reason: failed.failure ?? "remote-bye")
            }
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
        call.answered = true
        if let target = call.target { targetStats[target].callsAnswered += 1 }
        // The sender owns the sockets from here on and closes them when the call stops.
        if !specs.isEmpty { sender.startCall(call.index, streams: specs) }
        byeSchedule.push((call.answerTime ?? now) + plan.duration, call.index)
    }

    /// RFC 3263 §4.3: the call's INVITEs again, to the next target. A leg the old target had
    /// answered (its partner failed) is hung up there, so both legs of a Built-in-Bridge call
    /// end up on one recorder.
    private func failover(_ call: Call, from current: Int, to next: Int, now: Double) {
        call.failovers += 1
        failovers += 1
        targetStats[current].failoversFrom += 1
        for leg in call.legs where leg.state == .confirmed {
            guard let agent = leg.agent, let to = leg.responseTo else { continue }
            if let ack = leg.ack { abandonedAnswers[SIPMessage.branch(ofVia: leg.inviteVia) ?? ""] = ack }
            sendDetachedBye(callID: leg.callID, from: leg.from, to: to, uri: leg.remoteTarget ?? leg.requestURI, agent: agent,
                            destination: plan.targets[leg.target], now: now)
        }
        call.answerTime = nil
        call.target = next
        call.tried.insert(next)
        for leg in call.legs { sendInvite(leg, target: next, now: now) }
        // A transport error on every leg moves on at once.
        evaluateSetup(call, now: now)
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
            guard let agent = leg.agent else { continue }
            let branch = SIPTokens.branch()
            let bye = SIPWriter.request(method: "BYE", uri: leg.remoteTarget ?? leg.requestURI, headers: [
                ("Via", via(agent, branch: branch)), ("Max-Forwards", "70"), ("From", leg.from),
                ("To", leg.responseTo ?? leg.to), ("Call-ID", leg.callID), ("CSeq", "2 BYE"), ("User-Agent", "siprec-loadgen"),
            ])
            leg.state = .byeing
            if !begin(leg, method: "BYE", branch: branch, bytes: bye, to: plan.targets[leg.target], now: now) {
                endTransaction(leg)
                leg.state = .terminated
                noteCallFailure(call, "bye-transport-error")
            }
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
