import NIOCore
import SIPCore
import Testing
@testable import SIPStack

/// Builds requests the way an SRC would send them.
struct RequestBuilder {
    var callID = "call-1@192.0.2.10"
    var fromTag = "src-tag-1"
    var branch = "z9hG4bKbranch1"
    var transport = "UDP"
    var via: String?

    func request(_ method: String, cseq: Int = 1, cseqMethod: String? = nil, toTag: String? = nil, body: String? = nil,
                 extra: [String] = [], viaParams: String = "") -> SIPRequest {
        var lines = [
            "\(method) sip:srs@192.0.2.20:5060 SIP/2.0",
            via ?? "Via: SIP/2.0/\(transport) 192.0.2.10:5060;branch=\(branch)\(viaParams)",
            "Max-Forwards: 70",
            "From: <sip:src@example.com>;tag=\(fromTag)",
            "To: <sip:srs@example.com>" + (toTag.map { ";tag=\($0)" } ?? ""),
            "Call-ID: \(callID)",
            "CSeq: \(cseq) \(cseqMethod ?? method)",
            "Contact: <sip:src@192.0.2.10:5060>",
        ] + extra
        if body != nil { lines.append("Content-Type: application/sdp") }
        let text = lines.joined(separator: "\r\n") + "\r\nContent-Length: \(body?.utf8.count ?? 0)\r\n\r\n" + (body ?? "")
        guard case .message(.request(let request))? = try? SIPMessageParser().parse(datagram: ByteBuffer(string: text)) else {
            preconditionFailure("test request did not parse")
        }
        return request
    }
}

let udpPeer = SIPPeer(transport: .udp, remoteAddress: try! SocketAddress(ipAddress: "192.0.2.10", port: 5060),
                      localAddress: try! SocketAddress(ipAddress: "192.0.2.20", port: 5060))
let tcpPeer = SIPPeer(transport: .tcp, remoteAddress: try! SocketAddress(ipAddress: "192.0.2.10", port: 40000),
                      localAddress: try! SocketAddress(ipAddress: "192.0.2.20", port: 5060), connectionID: 7)

extension Array where Element == SIPEndpointAction {
    var responses: [SIPResponse] {
        compactMap { if case .send(.response(let r), _) = $0 { return r } else { return nil } }
    }
    var statuses: [Int] { responses.map(\.statusCode) }
    var requests: [SIPRequest] {
        compactMap { if case .send(.request(let r), _) = $0 { return r } else { return nil } }
    }
    var incoming: [SIPIncomingRequest] {
        compactMap { if case .event(.request(let r)) = $0 { return r } else { return nil } }
    }
    var rejections: [SIPRejectReason] {
        compactMap { if case .event(.rejected(let r)) = $0 { return r } else { return nil } }
    }
    var scheduled: [SIPTimerID] {
        compactMap { if case .schedule(let id, _, _) = $0 { return id } else { return nil } }
    }
    /// The generation a `schedule` action gave the timer.
    func generation(of timer: SIPTimerID) -> UInt64? {
        lazy.compactMap { if case .schedule(timer, _, let generation) = $0 { return generation } else { return nil } }.first
    }
    var destinations: [SIPPeer] {
        compactMap { if case .send(_, let peer) = $0 { return peer } else { return nil } }
    }
    var endedDialogs: [SIPDialogEndReason] {
        compactMap { if case .event(.dialogEnded(_, let reason, _)) = $0 { return reason } else { return nil } }
    }
}

let sdpOffer = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=sendonly\r\n"

@Suite("SIP endpoint (UAS core)")
struct SIPEndpointTests {
    var builder = RequestBuilder()

    /// INVITE → 100 → app answers 200; returns the endpoint and the dialog's local tag.
    func establish(_ endpoint: inout SIPEndpoint, peer: SIPPeer = udpPeer) -> (SIPIncomingRequest, [SIPEndpointAction]) {
        let actions = endpoint.receive(.request(builder.request("INVITE", body: sdpOffer)), from: peer)
        // No 100 yet: it follows only if the application takes more than 200 ms.
        #expect(actions.statuses == [])
        let incoming = actions.incoming[0]
        #expect(actions.scheduled == [.serverInvite(incoming.key, .trying)])
        let answered = endpoint.respond(to: incoming.key, status: 200, headers: [SIPHeaderField(name: .contentType, value: "application/sdp")],
                                        body: ByteBuffer(string: "v=0\r\n"))
        return (incoming, answered)
    }

    @Test("INVITE: 100 at once, 200 with our tag and Contact, retransmitted until ACK (RFC 3261 §13.3.1.4)")
    func inviteFlow() throws {
        var endpoint = SIPEndpoint()
        let (incoming, answered) = establish(&endpoint)
        #expect(answered.statuses == [200])
        let ok = answered.responses[0]
        #expect(ok.to?.tag == incoming.localTag)
        #expect(ok.contacts.first?.uri.host == "192.0.2.20")
        #expect(ok.callID == builder.callID)
        #expect(ok.cseq == SIPCSeq(number: 1, method: .invite))
        let dialogID = SIPDialogID(callID: builder.callID, localTag: incoming.localTag, remoteTag: builder.fromTag)
        #expect(answered.scheduled.contains(.retransmit2xx(dialogID)))
        #expect(answered.scheduled.contains(.ackTimeout(dialogID)))
        #expect(endpoint.dialogs[dialogID]?.state == .early2xx)

        let first = try #require(answered.generation(of: .retransmit2xx(dialogID)))
        let retransmitted = endpoint.timerFired(.retransmit2xx(dialogID), generation: first)
        #expect(retransmitted.statuses == [200])
        #expect(retransmitted.scheduled == [.retransmit2xx(dialogID)])
        // That expiry was handled and re-armed: its generation is stale now.
        #expect(endpoint.timerFired(.retransmit2xx(dialogID), generation: first).isEmpty)
        let second = try #require(retransmitted.generation(of: .retransmit2xx(dialogID)))
        #expect(second != first)

        // The INVITE arrives again (the 200 was lost): the 200 goes out again at once.
        let again = endpoint.receive(.request(builder.request("INVITE", body: sdpOffer)), from: udpPeer)
        #expect(again.statuses == [200])
        #expect(again.incoming.isEmpty)

        var ackBuilder = builder
        ackBuilder.branch = "z9hG4bKack1"
        let ack = endpoint.receive(.request(ackBuilder.request("ACK", toTag: incoming.localTag)), from: udpPeer)
        #expect(ack.contains { if case .event(.ack(dialogID, _)) = $0 { return true } else { return false } })
        #expect(endpoint.dialogs[dialogID]?.state == .confirmed)
        #expect(!endpoint.isArmed(.retransmit2xx(dialogID)))
        #expect(!endpoint.isArmed(.ackTimeout(dialogID)))
        #expect(endpoint.timerFired(.retransmit2xx(dialogID), generation: second).isEmpty)
        let ackTimeout = try #require(answered.generation(of: .ackTimeout(dialogID)))
        #expect(endpoint.timerFired(.ackTimeout(dialogID), generation: ackTimeout).isEmpty)
        #expect(endpoint.dialogs[dialogID]?.state == .confirmed, "a stale ACK timeout does not end the dialog")
    }

    @Test("no 2xx retransmission timer over TCP, responses go back on the connection")
    func tcpInvite() {
        var endpoint = SIPEndpoint()
        var test = self
        test.builder.transport = "TCP"
        let (_, answered) = test.establish(&endpoint, peer: tcpPeer)
        #expect(!answered.scheduled.contains { if case .retransmit2xx = $0 { return true } else { return false } })
        #expect(answered.destinations.allSatisfy { $0.connectionID == 7 })
    }

    @Test("no ACK within 64*T1: the dialog is ended with a BYE")
    func ackTimeout() throws {
        var endpoint = SIPEndpoint()
        let (incoming, _) = establish(&endpoint)
        let dialogID = SIPDialogID(callID: builder.callID, localTag: incoming.localTag, remoteTag: builder.fromTag)
        let actions = endpoint.timerFired(.ackTimeout(dialogID))
        let bye = try #require(actions.requests.first)
        #expect(bye.method == .bye)
        #expect(bye.uri.host == "192.0.2.10")
        #expect(bye.from?.tag == incoming.localTag)
        #expect(bye.to?.tag == builder.fromTag)
        #expect(bye.topVia?.hasRFC3261Branch == true)
        #expect(actions.endedDialogs == [.ackTimeout])
        #expect(endpoint.dialogs[dialogID] == nil)
    }

    @Test("CANCEL before the answer: 200 to the CANCEL, 487 to the INVITE, ACK absorbed (RFC 3261 §9.2)")
    func cancel() {
        var endpoint = SIPEndpoint()
        let invite = endpoint.receive(.request(builder.request("INVITE", body: sdpOffer)), from: udpPeer)
        let key = invite.incoming[0].key
        let cancel = endpoint.receive(.request(builder.request("CANCEL", cseqMethod: "CANCEL")), from: udpPeer)
        #expect(cancel.statuses == [200, 487])
        #expect(cancel.responses[0].cseq?.method == .cancel)
        #expect(cancel.responses[1].cseq?.method == .invite)
        #expect(cancel.responses[1].to?.tag != nil)
        #expect(cancel.contains { if case .event(.cancelled(key)) = $0 { return true } else { return false } })
        // The app's late answer is ignored.
        #expect(endpoint.respond(to: key, status: 200).isEmpty)
        let ack = endpoint.receive(.request(builder.request("ACK", toTag: cancel.responses[1].to?.tag)), from: udpPeer)
        #expect(ack.scheduled == [.serverInvite(key, .timerI)])
        #expect(!endpoint.isArmed(.serverInvite(key, .timerG)))
        #expect(endpoint.isArmed(.serverInvite(key, .timerI)))
        // A CANCEL with no INVITE to match gets 481.
        var other = builder
        other.branch = "z9hG4bKnothing"
        #expect(endpoint.receive(.request(other.request("CANCEL", cseqMethod: "CANCEL")), from: udpPeer).statuses == [481])
    }

    @Test("BYE in the dialog: 200 and the dialog ends; BYE for an unknown dialog: 481")
    func bye() {
        var endpoint = SIPEndpoint()
        let (incoming, _) = establish(&endpoint)
        var byeBuilder = builder
        byeBuilder.branch = "z9hG4bKbye"
        let bye = endpoint.receive(.request(byeBuilder.request("BYE", cseq: 2, toTag: incoming.localTag)), from: udpPeer)
        #expect(bye.statuses == [200])
        #expect(bye.endedDialogs == [.remoteBye])
        byeBuilder.branch = "z9hG4bKbye2"
        let stray = endpoint.receive(.request(byeBuilder.request("BYE", cseq: 3, toTag: incoming.localTag)), from: udpPeer)
        #expect(stray.statuses == [481])
        #expect(stray.rejections == [.noSuchDialog])
    }

    @Test("BYE without our To tag is matched by Call-ID and From tag (RFC 2543 style)")
    func taglessBye() {
        var endpoint = SIPEndpoint()
        _ = establish(&endpoint)
        var byeBuilder = builder
        byeBuilder.branch = "z9hG4bKtagless"
        let bye = endpoint.receive(.request(byeBuilder.request("BYE", cseq: 2)), from: udpPeer)
        #expect(bye.statuses == [200])
        #expect(bye.endedDialogs == [.remoteBye])
    }

    @Test("re-INVITE is handed to the app; a second one while it is pending gets 500 with Retry-After (§14.2)")
    func reinviteOverlap() {
        var endpoint = SIPEndpoint()
        let (incoming, _) = establish(&endpoint)
        var next = builder
        next.branch = "z9hG4bKack"
        _ = endpoint.receive(.request(next.request("ACK", toTag: incoming.localTag)), from: udpPeer)
        next.branch = "z9hG4bKre1"
        let first = endpoint.receive(.request(next.request("INVITE", cseq: 2, toTag: incoming.localTag, body: sdpOffer)), from: udpPeer)
        #expect(first.incoming.count == 1)
        #expect(first.incoming.first?.dialogID != nil)
        next.branch = "z9hG4bKre2"
        let second = endpoint.receive(.request(next.request("INVITE", cseq: 3, toTag: incoming.localTag, body: sdpOffer)), from: udpPeer)
        #expect(second.statuses == [500])
        #expect(second.responses[0].headers[.retryAfter] != nil)
        #expect(second.rejections == [.requestPending])
    }

    @Test("an offer while our delayed-offer 2xx awaits its ACK gets 491 (glare)")
    func glare491() {
        var endpoint = SIPEndpoint()
        let invite = endpoint.receive(.request(builder.request("INVITE")), from: udpPeer)
        let incoming = invite.incoming[0]
        _ = endpoint.respond(to: incoming.key, status: 200, body: ByteBuffer(string: "v=0\r\n"))
        var update = builder
        update.branch = "z9hG4bKupd"
        let actions = endpoint.receive(.request(update.request("UPDATE", cseq: 2, toTag: incoming.localTag, body: sdpOffer)), from: udpPeer)
        #expect(actions.statuses == [491])
    }

    @Test("CSeq lower than the last one in the dialog gets 500 (§12.2.2)")
    func outOfOrder() {
        var endpoint = SIPEndpoint()
        let (incoming, _) = establish(&endpoint)
        var info = builder
        info.branch = "z9hG4bKinfo5"
        #expect(endpoint.receive(.request(info.request("INFO", cseq: 5, toTag: incoming.localTag)), from: udpPeer).incoming.count == 1)
        info.branch = "z9hG4bKinfo4"
        let late = endpoint.receive(.request(info.request("INFO", cseq: 4, toTag: incoming.localTag)), from: udpPeer)
        #expect(late.statuses == [500])
        #expect(late.rejections == [.outOfOrderCSeq])
    }

    @Test("in-dialog request for an unknown dialog gets 481")
    func unknownDialog() {
        var endpoint = SIPEndpoint()
        let actions = endpoint.receive(.request(builder.request("INVITE", toTag: "nosuchtag", body: sdpOffer)), from: udpPeer)
        #expect(actions.statuses == [481])
    }

    @Test("unknown method 501, known but unsupported 405 with Allow")
    func methods() {
        var endpoint = SIPEndpoint()
        let unknown = endpoint.receive(.request(builder.request("FROBNICATE")), from: udpPeer)
        #expect(unknown.statuses == [501])
        var other = builder
        other.branch = "z9hG4bKreg"
        let register = endpoint.receive(.request(other.request("REGISTER")), from: udpPeer)
        #expect(register.statuses == [405])
        #expect(register.responses[0].headers[.allow]?.contains("INVITE") == true)
    }

    @Test("Require with an unknown option tag gets 420 with Unsupported; siprec and timer are supported")
    func requireTags() {
        var endpoint = SIPEndpoint()
        let bad = endpoint.receive(.request(builder.request("INVITE", body: sdpOffer, extra: ["Require: siprec, timer, 100rel"])), from: udpPeer)
        #expect(bad.statuses == [420])
        #expect(bad.responses[0].headers[.unsupported] == "100rel")
        var good = builder
        good.branch = "z9hG4bKsiprec"
        #expect(endpoint.receive(.request(good.request("INVITE", body: sdpOffer, extra: ["Require: siprec"])), from: udpPeer).incoming.count == 1)
    }

    @Test("untrusted source gets 403, never a 5xx; its ACK is dropped")
    func untrusted() throws {
        var endpoint = SIPEndpoint(configuration: SIPEndpointConfiguration(trustedNetworks: try #require(TrustedNetworks(parsing: ["198.51.100.0/24"]))))
        let actions = endpoint.receive(.request(builder.request("INVITE", body: sdpOffer)), from: udpPeer)
        #expect(actions.statuses == [403])
        #expect(actions.rejections == [.untrustedSource])
        #expect(endpoint.receive(.request(builder.request("ACK")), from: udpPeer).statuses.isEmpty)
    }

    @Test("OPTIONS goes to the app; a retransmission after the answer gets the same answer")
    func options() {
        var endpoint = SIPEndpoint()
        let actions = endpoint.receive(.request(builder.request("OPTIONS")), from: udpPeer)
        let incoming = actions.incoming[0]
        let answered = endpoint.respond(to: incoming.key, status: 200, headers: endpoint.capabilityHeaders())
        #expect(answered.statuses == [200])
        #expect(answered.responses[0].optionTags(.supported).contains("siprec"))
        #expect(answered.responses[0].headers[.accept]?.contains("application/rs-metadata+xml") == true)
        let again = endpoint.receive(.request(builder.request("OPTIONS")), from: udpPeer)
        #expect(again.statuses == [200])
        #expect(again.incoming.isEmpty)
        #expect(endpoint.timerFired(.serverNonInvite(incoming.key, .timerJ)).isEmpty)
        #expect(endpoint.transactionCount == 0)
    }

    @Test("rport: responses go to the source port and Via gets received/rport (RFC 3581)")
    func rport() throws {
        var endpoint = SIPEndpoint()
        let natPeer = SIPPeer(transport: .udp, remoteAddress: try SocketAddress(ipAddress: "203.0.113.5", port: 40123), localAddress: udpPeer.localAddress)
        let actions = endpoint.receive(.request(builder.request("OPTIONS", viaParams: ";rport")), from: natPeer)
        let answered = endpoint.respond(to: actions.incoming[0].key, status: 200)
        let via = try #require(answered.responses.first?.topVia)
        #expect(via.rport == .some("40123"))
        #expect(via.received == "203.0.113.5")
        #expect(answered.destinations.first?.remoteAddress.port == 40123)
        // Without rport: to the source address but the Via port.
        var plain = builder
        plain.branch = "z9hG4bKplain"
        let noRport = endpoint.receive(.request(plain.request("OPTIONS")), from: natPeer)
        let plainAnswer = endpoint.respond(to: noRport.incoming[0].key, status: 200)
        #expect(plainAnswer.destinations.first?.remoteAddress.port == 5060)
        #expect(plainAnswer.destinations.first?.remoteAddress.ipAddress == "203.0.113.5")
        #expect(plainAnswer.responses.first?.topVia?.received == "203.0.113.5")
    }

    @Test("malformed requests get the parser's status and reason where they can be routed")
    func malformed() {
        var endpoint = SIPEndpoint()
        var headers = SIPHeaders()
        headers.add(.via, "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKbad")
        headers.add(.from, "<sip:src@example.com>;tag=x")
        headers.add(.cseq, "1 INVITE")
        let error = SIPParseError(.missingHeader, header: "Call-ID", partialHeaders: headers)
        let actions = endpoint.receiveMalformed(error, from: udpPeer)
        #expect(actions.statuses == [400])
        #expect(actions.responses[0].reasonPhrase == "Missing Call-ID Header")
        #expect(actions.responses[0].headers[.cseq] == "1 INVITE")
        let response = SIPParseError(.invalidStatusCode, partialHeaders: headers, looksLikeRequest: false)
        #expect(endpoint.receiveMalformed(response, from: udpPeer).statuses.isEmpty)
    }

    @Test("our BYE: a client transaction, its 200 completes it")
    func ourBye() throws {
        var endpoint = SIPEndpoint()
        let (incoming, _) = establish(&endpoint)
        let dialogID = SIPDialogID(callID: builder.callID, localTag: incoming.localTag, remoteTag: builder.fromTag)
        let actions = endpoint.sendBYE(dialogID)
        let bye = try #require(actions.requests.first)
        #expect(actions.endedDialogs == [.localBye])
        let branch = try #require(bye.topVia?.branch)
        var okHeaders = SIPHeaders()
        for field in bye.headers where [.via, .from, .to, .callID, .cseq].contains(field.name) { okHeaders.add(field) }
        let result = endpoint.receive(.response(SIPResponse(statusCode: 200, headers: okHeaders)), from: udpPeer)
        #expect(result.contains {
            if case .event(.clientResult(branch, dialogID, .response(let r))) = $0 { return r.statusCode == 200 } else { return false }
        })
        #expect(endpoint.receive(.response(SIPResponse(statusCode: 200, headers: okHeaders)), from: udpPeer).isEmpty)
    }

    @Test("a BYE prepared for RFC 3263 location: the dialog ends at once; each target gets a new transaction with its own Via branch, the same CSeq")
    func locatedBye() throws {
        var endpoint = SIPEndpoint()
        let (incoming, _) = establish(&endpoint)
        let dialogID = SIPDialogID(callID: builder.callID, localTag: incoming.localTag, remoteTag: builder.fromTag)
        let maybePrepared = endpoint.prepareBYE(dialogID)
        let prepared = try #require(maybePrepared)
        #expect(prepared.request.headers.values(.via).isEmpty)
        #expect(prepared.peer == udpPeer)
        #expect(endpoint.dialogs[dialogID] == nil)
        let again = endpoint.prepareBYE(dialogID)
        #expect(again == nil)
        let first = SIPPeer(transport: .udp, remoteAddress: try SocketAddress(ipAddress: "198.51.100.1", port: 5070))
        let second = SIPPeer(transport: .udp, remoteAddress: try SocketAddress(ipAddress: "198.51.100.2", port: 5080))
        let one = endpoint.startClient(prepared.request, dialogID: dialogID, peer: first)
        let two = endpoint.startClient(prepared.request, dialogID: dialogID, peer: second)
        #expect(one.branch != two.branch)
        #expect(one.actions.destinations == [first])
        #expect(two.actions.destinations == [second])
        let byes = one.actions.requests + two.actions.requests
        #expect(byes.map { $0.topVia?.branch } == [one.branch, two.branch])
        #expect(byes.map { $0.headers.values(.via).count } == [1, 1])
        #expect(byes.map { $0.headers[.cseq] } == ["1 BYE", "1 BYE"])
    }

    @Test("the 2xx that creates the dialog carries the INVITE's Record-Route values in order (§12.1.1); our BYE follows them")
    func recordRoute() throws {
        var endpoint = SIPEndpoint()
        let invite = endpoint.receive(.request(builder.request("INVITE", body: sdpOffer, extra: [
            "Record-Route: <sip:sbc-a.example.com;lr>, <sip:sbc-b.example.com;lr>",
            "Record-Route: <sip:sbc-c.example.com;lr>",
        ])), from: udpPeer)
        let answered = endpoint.respond(to: invite.incoming[0].key, status: 200)
        #expect(answered.responses[0].recordRoutes.map(\.uri.host) == ["sbc-a.example.com", "sbc-b.example.com", "sbc-c.example.com"])
        let dialogID = SIPDialogID(callID: builder.callID, localTag: invite.incoming[0].localTag, remoteTag: builder.fromTag)
        let bye = try #require(endpoint.sendBYE(dialogID).requests.first)
        #expect(bye.headers.values(.route).count == 3)
    }

    @Test("in-dialog requests move the dialog to the connection they came on (the SRC reconnected)")
    func peerFollowsReconnect() throws {
        var endpoint = SIPEndpoint()
        var test = self
        test.builder.transport = "TCP"
        let (incoming, _) = test.establish(&endpoint, peer: tcpPeer)
        var newConnection = tcpPeer
        newConnection.connectionID = 8
        var info = test.builder
        info.branch = "z9hG4bKinfo-new-connection"
        _ = endpoint.receive(.request(info.request("INFO", cseq: 2, toTag: incoming.localTag)), from: newConnection)
        let dialogID = SIPDialogID(callID: builder.callID, localTag: incoming.localTag, remoteTag: builder.fromTag)
        let bye = endpoint.sendBYE(dialogID)
        #expect(bye.destinations.first?.connectionID == 8)
    }

    @Test("a malformed ACK is never answered (RFC 3261 §17)")
    func malformedACK() {
        var endpoint = SIPEndpoint()
        var headers = SIPHeaders()
        headers.add(.via, "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKbadack")
        var error = SIPParseError(.missingHeader, header: "Call-ID", partialHeaders: headers)
        error.requestMethod = .ack
        let actions = endpoint.receiveMalformed(error, from: udpPeer)
        #expect(actions.statuses.isEmpty)
        #expect(actions.rejections == [.unroutableDropped])
    }

    @Test("over the transaction limit, new requests get a stateless 503 with Retry-After; retransmissions still match")
    func transactionLimit() {
        var endpoint = SIPEndpoint(configuration: SIPEndpointConfiguration(maxTransactions: 2))
        var request = builder
        for index in 0..<2 {
            request.branch = "z9hG4bKlimit\(index)"
            #expect(endpoint.receive(.request(request.request("OPTIONS")), from: udpPeer).incoming.count == 1)
        }
        request.branch = "z9hG4bKlimit2"
        let refused = endpoint.receive(.request(request.request("OPTIONS")), from: udpPeer)
        #expect(refused.statuses == [503])
        #expect(refused.responses[0].headers[.retryAfter] == "5")
        #expect(refused.rejections == [.overloaded])
        #expect(endpoint.transactionCount == 2)
        request.branch = "z9hG4bKlimit1"
        #expect(endpoint.receive(.request(request.request("OPTIONS")), from: udpPeer).rejections.isEmpty)
    }

    @Test("a response copies Via (all, in order), To with our tag, From, Call-ID and CSeq in that order, then Server")
    func responseHeaderOrder() {
        var endpoint = SIPEndpoint()
        // A second Via, written after the other headers, must still come out right after the first.
        let request = builder.request("OPTIONS", extra: ["Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKproxy"])
        let answered = endpoint.receive(.request(request), from: udpPeer)
        let incoming = answered.incoming[0]
        let response = endpoint.respond(to: incoming.key, status: 486).responses[0]
        #expect(response.headers.map(\.name.canonical) == ["Via", "Via", "To", "From", "Call-ID", "CSeq", "Server"])
        #expect(response.headers.values(.via).last?.contains("z9hG4bKproxy") == true)
        #expect(response.to?.tag == incoming.localTag)
    }

    @Test("a slow application: 100 Trying after 200 ms, or at once when the INVITE is retransmitted first")
    func tryingWhenSlow() {
        var endpoint = SIPEndpoint()
        let invite = endpoint.receive(.request(builder.request("INVITE", body: sdpOffer)), from: udpPeer)
        let key = invite.incoming[0].key
        let fired = endpoint.timerFired(.serverInvite(key, .trying))
        #expect(fired.statuses == [100])
        #expect(fired.responses[0].to?.tag == nil)
        var other = builder
        other.branch = "z9hG4bKretransmitted"
        let second = endpoint.receive(.request(other.request("INVITE", body: sdpOffer)), from: udpPeer)
        #expect(second.statuses == [])
        #expect(endpoint.isArmed(.serverInvite(second.incoming[0].key, .trying)))
        let retransmission = endpoint.receive(.request(other.request("INVITE", body: sdpOffer)), from: udpPeer)
        #expect(retransmission.statuses == [100])
        #expect(!endpoint.isArmed(.serverInvite(second.incoming[0].key, .trying)))
        #expect(endpoint.timerFired(.serverInvite(second.incoming[0].key, .trying)).isEmpty)
    }

    @Test("RFC 4028: the SRC refreshes (refresher=uac, Require: timer); no refresh in time ends the session with BYE")
    func sessionTimer() throws {
        var endpoint = SIPEndpoint()
        let invite = endpoint.receive(.request(builder.request("INVITE", body: sdpOffer, extra: ["Session-Expires: 1800", "Supported: timer"])), from: udpPeer)
        let incoming = invite.incoming[0]
        let answered = endpoint.respond(to: incoming.key, status: 200)
        let ok = try #require(answered.responses.first)
        #expect(ok.headers[.sessionExpires] == "1800;refresher=uac")
        #expect(ok.optionTags(.require) == ["timer"])
        let dialogID = SIPDialogID(callID: builder.callID, localTag: incoming.localTag, remoteTag: builder.fromTag)
        #expect(answered.contains {
            if case .schedule(.sessionExpiry(dialogID), let after, _) = $0 { return after == .seconds(1768) } else { return false }
        })
        let original = try #require(answered.generation(of: .sessionExpiry(dialogID)))
        // A refresh (UPDATE) restarts the expiry.
        var update = builder
        update.branch = "z9hG4bKrefresh"
        let refresh = endpoint.receive(.request(update.request("UPDATE", cseq: 2, toTag: incoming.localTag, extra: ["Session-Expires: 600;refresher=uac", "Supported: timer"])), from: udpPeer)
        let refreshed = endpoint.respond(to: refresh.incoming[0].key, status: 200)
        #expect(refreshed.responses.first?.headers[.sessionExpires] == "600;refresher=uac")
        #expect(refreshed.scheduled.contains(.sessionExpiry(dialogID)))
        // The first arming's expiry comes too (the queue keeps it), and is ignored.
        #expect(endpoint.timerFired(.sessionExpiry(dialogID), generation: original).isEmpty)
        #expect(endpoint.dialogs[dialogID] != nil)
        // No further refresh: BYE with a Reason, and the dialog ends.
        let current = try #require(refreshed.generation(of: .sessionExpiry(dialogID)))
        let expired = endpoint.timerFired(.sessionExpiry(dialogID), generation: current)
        let bye = try #require(expired.requests.first)
        #expect(bye.method == .bye)
        #expect(bye.headers[.reason]?.contains("408") == true)
        #expect(expired.endedDialogs == [.sessionExpired])
    }

    @Test("RFC 4028: Session-Expires below Min-SE gets 422 with Min-SE; without timer support there is no timer")
    func sessionTimerLimits() {
        var endpoint = SIPEndpoint()
        let tooShort = endpoint.receive(.request(builder.request("INVITE", body: sdpOffer, extra: ["Session-Expires: 30", "Supported: timer"])), from: udpPeer)
        #expect(tooShort.statuses == [422])
        #expect(tooShort.responses[0].headers[.minSE] == "90")
        var plain = builder
        plain.branch = "z9hG4bKnotimer"
        let invite = endpoint.receive(.request(plain.request("INVITE", body: sdpOffer, extra: ["Session-Expires: 1800"])), from: udpPeer)
        let answered = endpoint.respond(to: invite.incoming[0].key, status: 200)
        #expect(answered.responses.first?.headers[.sessionExpires] == nil)
        #expect(!answered.scheduled.contains { if case .sessionExpiry = $0 { return true } else { return false } })
    }
}
