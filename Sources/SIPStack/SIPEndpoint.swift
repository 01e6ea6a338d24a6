import NIOCore
import SIPCore

/// The UAS core of siprecd: transaction matching, dialogs, and the answers RFC 3261 leaves no
/// choice about (403, 405, 420, 481, 487, 491, 501, retransmissions). A pure state machine:
/// messages and timer expiries in, actions out. The application answers the requests it is
/// handed through `respond(to:…)`.
public struct SIPEndpoint: Sendable {
    struct InviteEntry: Sendable {
        var transaction: ServerInviteTransaction
        /// The request without its body: only its headers are needed to build responses.
        var request: SIPRequest
        var requestHadBody: Bool
        var responsePeer: SIPPeer
        var localTag: String
        var dialogID: SIPDialogID?
        var timers = SIPTimerArmings()

        init(transaction: ServerInviteTransaction, request: SIPRequest, responsePeer: SIPPeer, localTag: String) {
            self.transaction = transaction
            self.requestHadBody = (request.body?.readableBytes ?? 0) > 0
            var stored = request
            stored.body = nil
            self.request = stored
            self.responsePeer = responsePeer
            self.localTag = localTag
        }
    }

    struct NonInviteEntry: Sendable {
        var transaction: ServerNonInviteTransaction
        /// The request without its body (see InviteEntry).
        var request: SIPRequest
        var responsePeer: SIPPeer
        var localTag: String
        var dialogID: SIPDialogID?
        var timers = SIPTimerArmings()

        init(transaction: ServerNonInviteTransaction, request: SIPRequest, responsePeer: SIPPeer, localTag: String) {
            self.transaction = transaction
            var stored = request
            stored.body = nil
            self.request = stored
            self.responsePeer = responsePeer
            self.localTag = localTag
        }
    }

    struct ClientEntry: Sendable {
        var transaction: ClientNonInviteTransaction
        var dialogID: SIPDialogID?
        var peer: SIPPeer
        var timers = SIPTimerArmings()
    }

    /// Changed only by a configuration reload (`SIPServerCore.reconfigure`): trusted
    /// networks, advertised host and Min-SE apply from the next request on.
    public internal(set) var configuration: SIPEndpointConfiguration
    private(set) var invites: [ServerTransactionKey: InviteEntry] = [:]
    private(set) var nonInvites: [ServerTransactionKey: NonInviteEntry] = [:]
    private(set) var clients: [String: ClientEntry] = [:]
    public private(set) var dialogs: [SIPDialogID: SIPDialog] = [:]
    /// Call-ID → dialogs, for BYEs that lack our tag (RFC 2543-style matching).
    private var dialogsByCallID: [String: [SIPDialogID]] = [:]

    private var tagState: UInt64
    /// The generation of the last timer armed (0 means "not armed" in `SIPTimerArmings`).
    private var lastTimerGeneration: UInt64 = 0

    public init(configuration: SIPEndpointConfiguration = SIPEndpointConfiguration()) {
        self.configuration = configuration
        var system = SystemRandomNumberGenerator()
        self.tagState = system.next()
    }

    public var transactionCount: Int { invites.count + nonInvites.count + clients.count }

    // MARK: - Incoming messages

    public mutating func receive(_ message: SIPMessage, from peer: SIPPeer) -> [SIPEndpointAction] {
        switch message {
        case .request(let request): receive(request, from: peer)
        case .response(let response): receive(response, from: peer)
        }
    }

    /// A message that failed to parse: answer a request with the error's status where a
    /// response can be routed, otherwise drop it (RFC 3261 §16.3 / §18.2).
    public mutating func receiveMalformed(_ error: SIPParseError, from peer: SIPPeer) -> [SIPEndpointAction] {
        guard error.looksLikeRequest, let partial = error.partialHeaders else {
            return [.event(.rejected(error.looksLikeRequest ? .unroutableDropped : .malformedResponseDropped))]
        }
        // RFC 3261 §17: an ACK is never answered, however broken.
        if error.requestMethod == .ack { return [.event(.rejected(.unroutableDropped))] }
        if !configuration.trustedNetworks.contains(peer.remoteAddress) {
            return [.event(.rejected(.untrustedSource))]
        }
        var headers = SIPHeaders()
        for field in partial where field.name == .via || field.name == .from || field.name == .to
            || field.name == .callID || field.name == .cseq {
            headers.add(field)
        }
        // Without a Via a datagram reply goes back to the source (as with rport); on a stream,
        // the connection itself is the route.
        var responsePeer = peer
        if let viaText = partial.firstValue(.via), let via = try? SIPVia(parsing: viaText), !peer.transport.isReliable {
            responsePeer = SIPEndpoint.responseDestination(via: via, peer: peer)
        }
        headers.add(.server, configuration.serverName)
        let response = SIPResponse(statusCode: error.statusCode, reasonPhrase: error.reasonPhrase, headers: headers)
        return [.send(.response(response), to: responsePeer), .event(.rejected(.malformedRequest))]
    }

    mutating func receive(_ original: SIPRequest, from peer: SIPPeer) -> [SIPEndpointAction] {
        // The parser's top Via (parsed once, with the message).
        guard var via = original.topVia else {
            return [.event(.rejected(.unroutableDropped))]
        }
        // RFC 3261 §18.2.1 and RFC 3581: record where the request really came from. The Via is
        // written back only when that added something.
        var request = original
        if SIPEndpoint.stampReceived(&via, peer: peer) { request.replaceTopVia(via) }
        let responsePeer = SIPEndpoint.responseDestination(via: via, peer: peer)

        if !configuration.trustedNetworks.contains(peer.remoteAddress) {
            if request.method == .ack { return [.event(.rejected(.untrustedSource))] }
            let response = makeResponse(403, for: request, localTag: makeTag())
            return [.send(.response(response), to: responsePeer), .event(.rejected(.untrustedSource))]
        }

        if request.method != .ack, transactionCount >= configuration.maxTransactions,
           invites[ServerTransactionKey.of(request, via: via)] == nil, nonInvites[ServerTransactionKey.of(request, via: via)] == nil {
            // Over the transaction limit: a stateless 503 keeps memory bounded and sends the SRC elsewhere.
            var response = makeResponse(503, for: request, localTag: makeTag())
            response.headers.add(.retryAfter, "5")
            return [.send(.response(response), to: responsePeer), .event(.rejected(.overloaded))]
        }

        switch request.method {
        case .ack:
            return receiveACK(request, via: via)
        case .cancel:
            return receiveCANCEL(request, via: via, responsePeer: responsePeer)
        case .invite:
            let key = ServerTransactionKey.of(request, via: via)
            if var entry = invites[key] {
                var actions = commit(entry.transaction.receivedRetransmission(), key: key, entry: entry)
                // A lost 2xx: resend it at once rather than wait for the next retransmission.
                if entry.transaction.state == .accepted, let dialogID = entry.dialogID,
                   let pending = dialogs[dialogID]?.pending2xx {
                    actions.append(.send(.response(pending), to: entry.responsePeer))
                }
                _ = entry
                return actions
            }
            return receiveNewINVITE(request, key: key, peer: peer, responsePeer: responsePeer)
        default:
            let key = ServerTransactionKey.of(request, via: via)
            if var entry = nonInvites[key] {
                return commit(entry.transaction.receivedRetransmission(), key: key, entry: entry)
            }
            return receiveNewNonINVITE(request, key: key, peer: peer, responsePeer: responsePeer)
        }
    }

    private mutating func receiveNewINVITE(_ request: SIPRequest, key: ServerTransactionKey, peer: SIPPeer, responsePeer: SIPPeer) -> [SIPEndpointAction] {
        let transaction = ServerInviteTransaction(reliable: peer.transport.isReliable, timers: configuration.timers)
        var entry = InviteEntry(transaction: transaction, request: request, responsePeer: responsePeer, localTag: makeTag())
        var dialogID: SIPDialogID?
        if let remoteTag = request.to?.tag {
            // A re-INVITE: it must belong to a dialog (RFC 3261 §12.2.2).
            let id = SIPDialogID(callID: request.callID ?? "", localTag: remoteTag, remoteTag: request.from?.tag ?? "")
            guard var dialog = dialogs[id], dialog.state != .terminated else {
                return reject(481, key: key, entry: entry, reason: .noSuchDialog)
            }
            entry.localTag = id.localTag
            entry.dialogID = id
            if let rejection = checkInDialog(request, dialog: dialog) {
                return reject(rejection.status, key: key, entry: entry, reason: rejection.reason, retryAfter: rejection.retryAfter)
            }
            if let required = unsupportedRequire(request) {
                return reject(420, key: key, entry: entry, reason: .badExtension, unsupported: required)
            }
            dialog.remoteCSeq = request.cseq?.number ?? dialog.remoteCSeq
            dialog.pendingInvites.insert(key)
            // The SRC may have reconnected: in-dialog requests from us follow its latest connection.
            dialog.peer = responsePeer
            if let target = request.contacts.first?.uri { dialog.remoteTarget = target }
            dialogs[id] = dialog
            dialogID = id
        } else if let required = unsupportedRequire(request) {
            return reject(420, key: key, entry: entry, reason: .badExtension, unsupported: required)
        }
        if let interval = SIPEndpoint.sessionInterval(request), interval.seconds < configuration.minSessionExpires {
            return reject(422, key: key, entry: entry, reason: .sessionIntervalTooSmall, minSE: configuration.minSessionExpires)
        }
        // RFC 3261 §17.2.1: 100 Trying goes out if the application has not answered in 200 ms.
        var actions = commit(entry.transaction.start(), key: key, entry: entry)
        actions.append(.event(.request(SIPIncomingRequest(key: key, request: request, peer: peer, dialogID: dialogID, localTag: entry.localTag))))
        return actions
    }

    private mutating func receiveNewNonINVITE(_ request: SIPRequest, key: ServerTransactionKey, peer: SIPPeer, responsePeer: SIPPeer) -> [SIPEndpointAction] {
        let transaction = ServerNonInviteTransaction(reliable: peer.transport.isReliable, timers: configuration.timers)
        var entry = NonInviteEntry(transaction: transaction, request: request, responsePeer: responsePeer, localTag: makeTag())
        guard SIPEndpointConfiguration.allowedMethods.contains(request.method) else {
            if case .extension = request.method {
                return reject(501, key: key, entry: entry, reason: .unknownMethod)
            }
            return reject(405, key: key, entry: entry, reason: .methodNotAllowed)
        }
        var dialogID: SIPDialogID?
        if let remoteTag = request.to?.tag {
            dialogID = SIPDialogID(callID: request.callID ?? "", localTag: remoteTag, remoteTag: request.from?.tag ?? "")
        } else if request.method == .bye, let callID = request.callID, let fromTag = request.from?.tag,
                  let candidates = dialogsByCallID[callID] {
            // Older SRCs send BYE without our To tag: accept it when exactly one dialog matches.
            let matching = candidates.filter { $0.remoteTag == fromTag }
            if matching.count == 1 { dialogID = matching[0] }
        }
        if let id = dialogID {
            guard var dialog = dialogs[id], dialog.state != .terminated else {
                return reject(481, key: key, entry: entry, reason: .noSuchDialog)
            }
            entry.localTag = id.localTag
            entry.dialogID = id
            if let rejection = checkInDialog(request, dialog: dialog) {
                return reject(rejection.status, key: key, entry: entry, reason: rejection.reason, retryAfter: rejection.retryAfter)
            }
            dialog.remoteCSeq = request.cseq?.number ?? dialog.remoteCSeq
            dialog.peer = responsePeer
            dialogs[id] = dialog
            if request.method == .bye { return receiveBYE(request, key: key, entry: entry, dialogID: id) }
        } else if request.method == .bye {
            return reject(481, key: key, entry: entry, reason: .noSuchDialog)
        }
        if request.method != .options, let required = unsupportedRequire(request) {
            return reject(420, key: key, entry: entry, reason: .badExtension, unsupported: required)
        }
        if request.method == .update, let interval = SIPEndpoint.sessionInterval(request), interval.seconds < configuration.minSessionExpires {
            return reject(422, key: key, entry: entry, reason: .sessionIntervalTooSmall, minSE: configuration.minSessionExpires)
        }
        nonInvites[key] = entry
        return [.event(.request(SIPIncomingRequest(key: key, request: request, peer: peer, dialogID: dialogID, localTag: entry.localTag)))]
    }

    private mutating func receiveBYE(_ bye: SIPRequest, key: ServerTransactionKey, entry: NonInviteEntry, dialogID: SIPDialogID) -> [SIPEndpointAction] {
        guard var dialog = dialogs[dialogID] else { return [] }
        var actions: [SIPEndpointAction] = []
        // RFC 3261 §15.1.2: INVITEs still pending on the dialog get 487.
        for inviteKey in dialog.pendingInvites {
            guard var invite = invites[inviteKey] else { continue }
            let response = makeResponse(487, for: invite.request, localTag: invite.localTag)
            actions += commit(invite.transaction.send(response), key: inviteKey, entry: invite)
        }
        endDialog(&dialog)
        removeDialog(dialogID)
        var entry = entry
        actions += commit(entry.transaction.send(makeResponse(200, for: entry.request, localTag: entry.localTag)), key: key, entry: entry)
        actions.append(.event(.dialogEnded(dialogID, .remoteBye, bye: bye)))
        return actions
    }

    private mutating func receiveACK(_ request: SIPRequest, via: SIPVia) -> [SIPEndpointAction] {
        let key = ServerTransactionKey.of(request, via: via)
        if var entry = invites[key], entry.transaction.state == .completed {
            // ACK for a non-2xx final response: same branch as the INVITE (§17.1.1.3).
            return commit(entry.transaction.receivedACK(), key: key, entry: entry)
        }
        guard let toTag = request.to?.tag else { return [.event(.rejected(.strayACK))] }
        let dialogID = SIPDialogID(callID: request.callID ?? "", localTag: toTag, remoteTag: request.from?.tag ?? "")
        guard var dialog = dialogs[dialogID] else { return [.event(.rejected(.strayACK))] }
        guard dialog.pending2xx != nil, request.cseq?.number == dialog.pendingInviteCSeq else {
            // A retransmitted ACK, or one for a 2xx we are no longer waiting on.
            return []
        }
        dialog.pending2xx = nil
        dialog.state = .confirmed
        dialog.awaitingAnswerInACK = false
        dialog.timers[SIPTimerArmings.retransmit2xx] = 0
        dialog.timers[SIPTimerArmings.ackTimeout] = 0
        dialogs[dialogID] = dialog
        return [.event(.ack(dialogID, request))]
    }

    private mutating func receiveCANCEL(_ request: SIPRequest, via: SIPVia, responsePeer: SIPPeer) -> [SIPEndpointAction] {
        let cancelKey = ServerTransactionKey.of(request, via: via)
        if var entry = nonInvites[cancelKey] {
            return commit(entry.transaction.receivedRetransmission(), key: cancelKey, entry: entry)
        }
        let inviteKey = ServerTransactionKey.of(request, via: via, matchingInvite: true)
        let transaction = ServerNonInviteTransaction(reliable: responsePeer.transport.isReliable, timers: configuration.timers)
        var cancelEntry = NonInviteEntry(transaction: transaction, request: request, responsePeer: responsePeer, localTag: makeTag())
        guard var invite = invites[inviteKey] else {
            // RFC 3261 §9.2: no matching transaction → 481.
            return reject(481, key: cancelKey, entry: cancelEntry, reason: .noSuchTransaction)
        }
        cancelEntry.localTag = invite.localTag
        var actions = commit(cancelEntry.transaction.send(makeResponse(200, for: request, localTag: invite.localTag)),
                             key: cancelKey, entry: cancelEntry)
        if invite.transaction.state == .proceeding {
            let terminated = makeResponse(487, for: invite.request, localTag: invite.localTag)
            actions += commit(invite.transaction.send(terminated), key: inviteKey, entry: invite)
            if let dialogID = invite.dialogID { dialogs[dialogID]?.pendingInvites.remove(inviteKey) }
            actions.append(.event(.cancelled(inviteKey)))
        }
        return actions
    }

    // MARK: - Responses from the application

    /// Answers a request handed out as `.request`. For a 2xx to an INVITE this creates or
    /// updates the dialog; `headers` are added to the ones copied from the request (§8.2.6.2).
    public mutating func respond(to key: ServerTransactionKey, status: Int, reasonPhrase: String? = nil,
                                 headers extra: [SIPHeaderField] = [], body: ByteBuffer? = nil) -> [SIPEndpointAction] {
        if var entry = invites[key] {
            guard entry.transaction.state == .proceeding else { return [] }
            var response = makeResponse(status, reasonPhrase: reasonPhrase, for: entry.request, localTag: status > 100 ? entry.localTag : nil)
            for field in extra { response.headers.add(field) }
            response.body = body
            guard response.isSuccess else {
                if status >= 200, let dialogID = entry.dialogID { dialogs[dialogID]?.pendingInvites.remove(key) }
                return commit(entry.transaction.send(response), key: key, entry: entry)
            }
            if !response.headers.contains(.contact) {
                response.headers.add(.contact, contact(for: entry.responsePeer, requestURI: entry.request.uri).description)
            }
            let sessionTimer = acceptSessionTimer(entry.request, into: &response)
            let dialogID = entry.dialogID ?? SIPDialogID(callID: entry.request.callID ?? "", localTag: entry.localTag,
                                                         remoteTag: entry.request.from?.tag ?? "")
            var dialog: SIPDialog
            if let existing = dialogs[dialogID] {
                dialog = existing
            } else {
                // RFC 3261 §12.1.1: a dialog-creating response carries the Record-Route values, in order.
                for route in entry.request.headers.fieldValues(.recordRoute) { response.headers.add(.recordRoute, route) }
                let local = (entry.request.to ?? SIPAddress(uri: entry.request.uri)).withTag(entry.localTag)
                dialog = SIPDialog(id: dialogID, invite: entry.request, local: local, peer: entry.responsePeer, t1: configuration.timers.t1)
                entry.dialogID = dialogID
                dialogsByCallID[dialogID.callID, default: []].append(dialogID)
            }
            dialog.pendingInvites.remove(key)
            dialog.pending2xx = response
            dialog.pendingInviteCSeq = entry.request.cseq?.number ?? 0
            dialog.retransmitInterval = configuration.timers.t1
            dialog.awaitingAnswerInACK = !entry.requestHadBody && body != nil
            var timerActions: [SIPEndpointAction] = []
            if !entry.responsePeer.transport.isReliable {
                timerActions.append(arm(.retransmit2xx(dialogID), slot: SIPTimerArmings.retransmit2xx, in: &dialog.timers,
                                        after: configuration.timers.t1))
            }
            timerActions.append(arm(.ackTimeout(dialogID), slot: SIPTimerArmings.ackTimeout, in: &dialog.timers,
                                    after: configuration.timers.transactionTimeout))
            if let sessionTimer {
                timerActions.append(arm(.sessionExpiry(dialogID), slot: SIPTimerArmings.sessionExpiry, in: &dialog.timers, after: sessionTimer))
            }
            dialogs[dialogID] = dialog
            return commit(entry.transaction.send(response), key: key, entry: entry) + timerActions
        }
        if var entry = nonInvites[key] {
            var response = makeResponse(status, reasonPhrase: reasonPhrase, for: entry.request, localTag: entry.localTag)
            for field in extra { response.headers.add(field) }
            response.body = body
            // An UPDATE that refreshes the session (RFC 4028 §9) restarts its expiry.
            var refresh: Duration?
            if response.isSuccess, entry.request.method == .update, entry.dialogID != nil,
               entry.transaction.state == .trying || entry.transaction.state == .proceeding {
                refresh = acceptSessionTimer(entry.request, into: &response)
            }
            var actions = commit(entry.transaction.send(response), key: key, entry: entry)
            if let refresh, let dialogID = entry.dialogID, var dialog = dialogs[dialogID] {
                actions.append(arm(.sessionExpiry(dialogID), slot: SIPTimerArmings.sessionExpiry, in: &dialog.timers, after: refresh))
                dialogs[dialogID] = dialog
            }
            return actions
        }
        return []
    }

    /// Default headers for an OPTIONS answer or a 2xx to INVITE: Allow, Accept, Supported.
    public func capabilityHeaders() -> [SIPHeaderField] {
        [
            SIPHeaderField(name: .allow, value: configuration.allowHeader),
            SIPHeaderField(name: .accept, value: configuration.acceptedContentTypes.joined(separator: ", ")),
            SIPHeaderField(name: .supported, value: configuration.supportedOptionTags.joined(separator: ", ")),
        ]
    }

    // MARK: - Requests we send

    /// Ends a dialog from our side with a BYE (RFC 3261 §15.1.1), e.g. when a recording is
    /// stopped or the INVITE's 2xx was never acknowledged.
    public mutating func sendBYE(_ dialogID: SIPDialogID, extraHeaders: [SIPHeaderField] = []) -> [SIPEndpointAction] {
        sendBYE(dialogID, extraHeaders: extraHeaders, reason: .localBye)
    }

    private mutating func sendBYE(_ dialogID: SIPDialogID, extraHeaders: [SIPHeaderField], reason: SIPDialogEndReason) -> [SIPEndpointAction] {
        guard let prepared = prepareBYE(dialogID, extraHeaders: extraHeaders, reason: reason) else { return [] }
        return startClient(prepared.request, dialogID: dialogID, peer: prepared.peer).actions + [prepared.ended]
    }

    /// A BYE built and its dialog ended, not sent yet: the caller sends it with `startClient`,
    /// to the dialog's flow (`peer`) or to where RFC 3263 locates the remote target.
    public struct PreparedRequest: Sendable {
        public var request: SIPRequest
        /// The flow the dialog came on.
        public var peer: SIPPeer
        /// The `dialogEnded` event, for after the request is on its way.
        public var ended: SIPEndpointAction
    }

    /// Ends the dialog and builds its BYE (without Via: `startClient` adds it).
    public mutating func prepareBYE(_ dialogID: SIPDialogID, extraHeaders: [SIPHeaderField] = []) -> PreparedRequest? {
        prepareBYE(dialogID, extraHeaders: extraHeaders, reason: .localBye)
    }

    private mutating func prepareBYE(_ dialogID: SIPDialogID, extraHeaders: [SIPHeaderField], reason: SIPDialogEndReason) -> PreparedRequest? {
        guard var dialog = dialogs[dialogID], dialog.state != .terminated else { return nil }
        dialog.localCSeq += 1
        var headers = SIPHeaders()
        headers.add(.maxForwards, "70")
        for route in dialog.routeSet { headers.add(.route, route.description) }
        headers.add(.from, dialog.local.description)
        headers.add(.to, dialog.remote.description)
        headers.add(.callID, dialogID.callID)
        headers.add(.cseq, "\(dialog.localCSeq) BYE")
        headers.add(.userAgent, configuration.serverName)
        for field in extraHeaders { headers.add(field) }
        let request = SIPRequest(method: .bye, uri: dialog.remoteTarget, headers: headers)
        endDialog(&dialog)
        removeDialog(dialogID)
        return PreparedRequest(request: request, peer: dialog.peer, ended: .event(.dialogEnded(dialogID, reason, bye: nil)))
    }

    /// Sends a request the endpoint built (`prepareBYE`) in a new client transaction to `peer`,
    /// with a Via of its own and a new branch: called again for the next target after a
    /// timeout or a 503, it is a new transaction (RFC 3263 §4.3).
    public mutating func startClient(_ request: SIPRequest, dialogID: SIPDialogID?, peer: SIPPeer) -> (branch: String, actions: [SIPEndpointAction]) {
        let branch = "z9hG4bK" + makeTag() + makeTag()
        var request = request
        request.headers.remove(.via)
        let sentBy = viaHost(for: peer, fallback: request.uri)
        request.headers = SIPHeaders([SIPHeaderField(name: .via, value: "SIP/2.0/\(peer.transport.rawValue) \(sentBy);branch=\(branch);rport")]
                                     + Array(request.headers))
        var client = ClientEntry(transaction: ClientNonInviteTransaction(request: request, reliable: peer.transport.isReliable,
                                                                         timers: configuration.timers),
                                 dialogID: dialogID, peer: peer)
        let started = client.transaction.start()
        return (branch, commit(started, branch: branch, entry: client))
    }

    mutating func receive(_ response: SIPResponse, from peer: SIPPeer) -> [SIPEndpointAction] {
        guard let branch = response.topVia?.branch, var client = clients[branch] else {
            return [.event(.rejected(.strayResponse))]
        }
        return commit(client.transaction.received(response), branch: branch, entry: client)
    }

    // MARK: - Timers

    /// A timer expired. `generation` is the one its `schedule` action carried; an expiry whose
    /// arming was cancelled or replaced since is ignored. Nil fires the current arming, if any.
    public mutating func timerFired(_ timer: SIPTimerID, generation: UInt64? = nil) -> [SIPEndpointAction] {
        switch timer {
        case .serverInvite(let key, let name):
            guard var entry = invites[key], entry.timers.fire(SIPTimerArmings.slot(name), generation: generation) else { return [] }
            return commit(entry.transaction.timerFired(name), key: key, entry: entry)
        case .serverNonInvite(let key, let name):
            guard var entry = nonInvites[key], entry.timers.fire(SIPTimerArmings.slot(name), generation: generation) else { return [] }
            return commit(entry.transaction.timerFired(name), key: key, entry: entry)
        case .client(let branch, let name):
            guard var client = clients[branch], client.timers.fire(SIPTimerArmings.slot(name), generation: generation) else { return [] }
            return commit(client.transaction.timerFired(name), branch: branch, entry: client)
        case .retransmit2xx(let dialogID):
            guard var dialog = dialogs[dialogID], dialog.timers.fire(SIPTimerArmings.retransmit2xx, generation: generation),
                  let pending = dialog.pending2xx else { return [] }
            dialog.retransmitInterval = configuration.timers.nextRetransmitInterval(after: dialog.retransmitInterval)
            let again = arm(.retransmit2xx(dialogID), slot: SIPTimerArmings.retransmit2xx, in: &dialog.timers, after: dialog.retransmitInterval)
            dialogs[dialogID] = dialog
            return [.send(.response(pending), to: dialog.peer), again]
        case .sessionExpiry(let dialogID):
            guard var dialog = dialogs[dialogID], dialog.timers.fire(SIPTimerArmings.sessionExpiry, generation: generation) else { return [] }
            dialogs[dialogID] = dialog
            // RFC 4028 §10: no refresh in time, so the SRC is gone: end the session.
            return sendBYE(dialogID, extraHeaders: [SIPHeaderField(name: .reason, value: "SIP;cause=408;text=\"Session expired\"")],
                           reason: .sessionExpired)
        case .ackTimeout(let dialogID):
            guard var dialog = dialogs[dialogID], dialog.timers.fire(SIPTimerArmings.ackTimeout, generation: generation),
                  dialog.pending2xx != nil else { return [] }
            if dialog.state == .early2xx {
                dialogs[dialogID] = dialog
                // §13.3.1.4: no ACK within 64*T1 for the initial INVITE → end the session with BYE.
                return sendBYE(dialogID, extraHeaders: [], reason: .ackTimeout)
            }
            // A lost ACK to a re-INVITE does not cost the recording: stop retransmitting only.
            dialog.pending2xx = nil
            dialog.timers[SIPTimerArmings.retransmit2xx] = 0
            dialogs[dialogID] = dialog
            return []
        }
    }

    /// Whether a timer is armed now (for tests: what a cancel used to say).
    func isArmed(_ timer: SIPTimerID) -> Bool {
        switch timer {
        case .serverInvite(let key, let name): invites[key]?.timers.isArmed(SIPTimerArmings.slot(name)) ?? false
        case .serverNonInvite(let key, let name): nonInvites[key]?.timers.isArmed(SIPTimerArmings.slot(name)) ?? false
        case .client(let branch, let name): clients[branch]?.timers.isArmed(SIPTimerArmings.slot(name)) ?? false
        case .retransmit2xx(let id): dialogs[id]?.timers.isArmed(SIPTimerArmings.retransmit2xx) ?? false
        case .ackTimeout(let id): dialogs[id]?.timers.isArmed(SIPTimerArmings.ackTimeout) ?? false
        case .sessionExpiry(let id): dialogs[id]?.timers.isArmed(SIPTimerArmings.sessionExpiry) ?? false
        }
    }

    /// A `schedule` action for `timer`, recorded as the current arming of `slot`.
    private mutating func arm(_ timer: SIPTimerID, slot: Int, in armings: inout SIPTimerArmings, after: Duration) -> SIPEndpointAction {
        lastTimerGeneration += 1
        armings[slot] = lastTimerGeneration
        return .schedule(timer, after: after, generation: lastTimerGeneration)
    }

    // MARK: - Helpers

    private struct InDialogRejection {
        var status: Int
        var reason: SIPRejectReason
        var retryAfter: Bool
    }

    /// RFC 3261 §12.2.2 CSeq order, §14.2 overlapping INVITEs, RFC 3311 §5.2 UPDATE glare.
    private func checkInDialog(_ request: SIPRequest, dialog: SIPDialog) -> InDialogRejection? {
        if let number = request.cseq?.number, number <= dialog.remoteCSeq {
            return InDialogRejection(status: 500, reason: .outOfOrderCSeq, retryAfter: false)
        }
        let carriesOffer = request.method == .invite || (request.method == .update && request.body != nil)
        guard carriesOffer else { return nil }
        if !dialog.pendingInvites.isEmpty {
            return InDialogRejection(status: 500, reason: .requestPending, retryAfter: true)
        }
        if dialog.awaitingAnswerInACK {
            return InDialogRejection(status: 491, reason: .requestPending, retryAfter: false)
        }
        return nil
    }

    /// `Session-Expires: delta-seconds[;refresher=uac|uas]` (RFC 4028 §4), nil when absent or
    /// unreadable (an unreadable one is ignored rather than refused).
    static func sessionInterval(_ request: SIPRequest) -> (seconds: Int, refresher: String?)? {
        guard let value = request.headers[.sessionExpires] else { return nil }
        let parts = value.split(separator: ";", maxSplits: 1)
        guard let first = parts.first, let seconds = Int(String(first).trimmingCharacters(in: " \t")), seconds > 0 else { return nil }
        var refresher: String?
        if parts.count > 1, case .some(.some(let found)) = [SIPParameter].parse(parts[1]).parameter("refresher") {
            refresher = found.lowercased()
        }
        return (seconds, refresher)
    }

    /// RFC 4028 §9: when the SRC asks for a session timer and supports it, the 2xx says the SRC
    /// refreshes (`refresher=uac`, `Require: timer`). Returns when to give up on the session:
    /// the interval minus the smaller of 32 s and a third of it (§10). A request that wants us
    /// to refresh gets no timer (this server sends no refreshes), which RFC 4028 allows.
    private func acceptSessionTimer(_ request: SIPRequest, into response: inout SIPResponse) -> Duration? {
        guard let interval = SIPEndpoint.sessionInterval(request), interval.refresher != "uas",
              (request.optionTags(.supported) + request.optionTags(.require)).contains("timer") else { return nil }
        let seconds = max(interval.seconds, configuration.minSessionExpires)
        response.headers.add(.sessionExpires, "\(seconds);refresher=uac")
        if !response.optionTags(.require).contains("timer") { response.headers.add(.require, "timer") }
        return .seconds(seconds - min(32, seconds / 3))
    }

    private func unsupportedRequire(_ request: SIPRequest) -> String? {
        let required = request.optionTags(.require)
        let unsupported = required.filter { !configuration.supportedOptionTags.contains($0) }
        return unsupported.isEmpty ? nil : unsupported.joined(separator: ", ")
    }

    private mutating func reject(_ status: Int, key: ServerTransactionKey, entry: InviteEntry, reason: SIPRejectReason,
                                 retryAfter: Bool = false, unsupported: String? = nil, minSE: Int? = nil) -> [SIPEndpointAction] {
        var entry = entry
        var response = makeResponse(status, for: entry.request, localTag: entry.localTag)
        addRejectHeaders(&response, status: status, retryAfter: retryAfter, unsupported: unsupported, minSE: minSE)
        var actions = commit(entry.transaction.send(response), key: key, entry: entry)
        actions.append(.event(.rejected(reason)))
        return actions
    }

    private mutating func reject(_ status: Int, key: ServerTransactionKey, entry: NonInviteEntry, reason: SIPRejectReason,
                                 retryAfter: Bool = false, unsupported: String? = nil, minSE: Int? = nil) -> [SIPEndpointAction] {
        var entry = entry
        var response = makeResponse(status, for: entry.request, localTag: entry.localTag)
        addRejectHeaders(&response, status: status, retryAfter: retryAfter, unsupported: unsupported, minSE: minSE)
        var actions = commit(entry.transaction.send(response), key: key, entry: entry)
        actions.append(.event(.rejected(reason)))
        return actions
    }

    private func addRejectHeaders(_ response: inout SIPResponse, status: Int, retryAfter: Bool, unsupported: String?, minSE: Int?) {
        if status == 405 { response.headers.add(.allow, configuration.allowHeader) }
        if let minSE { response.headers.add(.minSE, String(minSE)) }
        if let unsupported { response.headers.add(.unsupported, unsupported) }
        if retryAfter { response.headers.add(.retryAfter, String(Int.random(in: 0...10))) }
    }

    private static let copiedAfterTo: [SIPHeaderName] = [.from, .callID, .cseq]

    /// Builds a response per RFC 3261 §8.2.6.2: Via, From, Call-ID, CSeq copied; To copied
    /// with our tag added when it has none.
    func makeResponse(_ status: Int, reasonPhrase: String? = nil, for request: SIPRequest, localTag: String?) -> SIPResponse {
        // Order as RFC examples show: Via, To, From, Call-ID, CSeq (each as the request has them).
        // A few scans of the request's fields cost less than sorting or sorting into arrays.
        var headers = SIPHeaders()
        headers.reserveCapacity(8)
        for field in request.headers where field.name == .via { headers.add(field) }
        if let toText = request.headers[.to] {
            // The To is copied as written; our tag is appended when it has none (a tag is a
            // header parameter, so it goes last in either name-addr or addr-spec form).
            if let localTag, request.to?.tag == nil {
                headers.add(.to, toText + ";tag=" + localTag)
            } else {
                headers.add(.to, toText)
            }
        }
        for name in SIPEndpoint.copiedAfterTo {
            for field in request.headers where field.name == name { headers.add(field) }
        }
        headers.add(.server, configuration.serverName)
        return SIPResponse(statusCode: status, reasonPhrase: reasonPhrase, headers: headers)
    }

    /// Our Contact for a dialog created on `peer` (the application may add feature tags).
    public func contact(for peer: SIPPeer, requestURI: SIPURI) -> SIPAddress {
        var uri = SIPURI(scheme: peer.transport == .tls ? "sips" : "sip", user: configuration.contactUser, host: "")
        let hostPort = viaHost(for: peer, fallback: requestURI)
        if let (host, port) = try? SIPURIHostPort.split(hostPort) {
            uri.host = host
            uri.port = port
        } else {
            uri.host = hostPort
        }
        if peer.transport == .tcp { uri.parameters.append(SIPParameter("transport", "tcp")) }
        return SIPAddress(uri: uri)
    }

    /// `host:port` for Via and Contact: the advertised host, else the listener's address, else
    /// the host the SRC addressed us by.
    func viaHost(for peer: SIPPeer, fallback: SIPURI) -> String {
        let port = peer.localAddress?.port ?? 5060
        if let advertised = configuration.advertisedHost { return SIPEndpoint.hostPort(advertised, port) }
        if let local = peer.localAddress, let ip = local.ipAddress, ip != "0.0.0.0", ip != "::" {
            return SIPEndpoint.hostPort(ip, port)
        }
        return SIPEndpoint.hostPort(fallback.hostWithoutBrackets, port)
    }

    static func hostPort(_ host: String, _ port: Int) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    private func endDialog(_ dialog: inout SIPDialog) {
        dialog.state = .terminated
        dialog.pending2xx = nil
        dialog.timers.disarmAll()
    }

    private mutating func removeDialog(_ id: SIPDialogID) {
        dialogs[id] = nil
        dialogsByCallID[id.callID]?.removeAll { $0 == id }
        if dialogsByCallID[id.callID]?.isEmpty == true { dialogsByCallID[id.callID] = nil }
    }

    /// What a transaction keeps of its request once it has answered finally: nothing is read
    /// from it after that (retransmissions are answered from the last response), so the
    /// headers and URI are let go for the 32 s the transaction still lives.
    private static let answeredPlaceholder = SIPRequest(method: .invite, uri: SIPURI(host: ""))

    /// Stores the transaction (or removes it once terminated) and maps its actions.
    private mutating func commit(_ actions: [ServerInviteTransaction.Action], key: ServerTransactionKey, entry: InviteEntry) -> [SIPEndpointAction] {
        var out: [SIPEndpointAction] = []
        out.reserveCapacity(actions.count)
        var entry = entry
        var terminated = false
        for action in actions {
            switch action {
            case .sendResponse(let response): out.append(.send(.response(response), to: entry.responsePeer))
            case .schedule(let timer, let after):
                out.append(arm(.serverInvite(key, timer), slot: SIPTimerArmings.slot(timer), in: &entry.timers, after: after))
            case .cancel(let timer): entry.timers[SIPTimerArmings.slot(timer)] = 0
            case .sendTrying:
                let trying = makeResponse(100, for: entry.request, localTag: nil)
                out += commit(entry.transaction.send(trying), key: key, entry: entry)
                return out
            case .timedOut: break
            case .terminated: terminated = true
            }
        }
        if terminated {
            invites[key] = nil
        } else if entry.transaction.state == .proceeding {
            invites[key] = entry
        } else {
            var answered = entry
            answered.request = SIPEndpoint.answeredPlaceholder
            invites[key] = answered
        }
        return out
    }

    private mutating func commit(_ actions: [ServerNonInviteTransaction.Action], key: ServerTransactionKey, entry: NonInviteEntry) -> [SIPEndpointAction] {
        var out: [SIPEndpointAction] = []
        var entry = entry
        var terminated = false
        for action in actions {
            switch action {
            case .sendResponse(let response): out.append(.send(.response(response), to: entry.responsePeer))
            case .schedule(let timer, let after):
                out.append(arm(.serverNonInvite(key, timer), slot: SIPTimerArmings.slot(timer), in: &entry.timers, after: after))
            case .terminated: terminated = true
            }
        }
        if terminated {
            nonInvites[key] = nil
        } else if entry.transaction.state == .trying || entry.transaction.state == .proceeding {
            nonInvites[key] = entry
        } else {
            var answered = entry
            answered.request = SIPEndpoint.answeredPlaceholder
            nonInvites[key] = answered
        }
        return out
    }

    private mutating func commit(_ actions: [ClientNonInviteTransaction.Action], branch: String, entry: ClientEntry) -> [SIPEndpointAction] {
        var out: [SIPEndpointAction] = []
        var entry = entry
        var terminated = false
        for action in actions {
            switch action {
            case .sendRequest(let request): out.append(.send(.request(request), to: entry.peer))
            case .schedule(let timer, let after):
                out.append(arm(.client(branch, timer), slot: SIPTimerArmings.slot(timer), in: &entry.timers, after: after))
            case .cancel(let timer): entry.timers[SIPTimerArmings.slot(timer)] = 0
            case .deliverResponse(let response):
                if !response.isProvisional { out.append(.event(.clientResult(branch: branch, dialogID: entry.dialogID, .response(response)))) }
            case .timedOut: out.append(.event(.clientResult(branch: branch, dialogID: entry.dialogID, .timeout)))
            case .terminated: terminated = true
            }
        }
        clients[branch] = terminated ? nil : entry
        return out
    }


    /// RFC 3261 §18.2.1 / RFC 3581 §4: add `received` when the source differs from sent-by,
    /// and fill in `rport` when the client asked for it.
    /// Returns whether it changed the Via.
    @discardableResult
    static func stampReceived(_ via: inout SIPVia, peer: SIPPeer) -> Bool {
        guard let sourceIP = peer.remoteAddress.ipAddress else { return false }
        if via.rport != nil, let port = peer.remoteAddress.port {
            via.parameters.set("rport", String(port))
            via.parameters.set("received", sourceIP)
            return true
        } else if via.host.trimmingCharacters(in: "[]") != sourceIP {
            via.parameters.set("received", sourceIP)
            return true
        }
        return false
    }

    /// Where responses to a request go (RFC 3261 §18.2.2, RFC 3581 §4).
    static func responseDestination(via: SIPVia, peer: SIPPeer) -> SIPPeer {
        guard !peer.transport.isReliable else { return peer }
        if via.rport != nil { return peer }
        var destination = peer
        let port = via.port ?? 5060
        if let ip = peer.remoteAddress.ipAddress, let address = try? SocketAddress(ipAddress: ip, port: port) {
            destination.remoteAddress = address
        }
        return destination
    }

    /// A tag or branch suffix with 64 bits of randomness (RFC 3261 §19.3 asks for at least 32),
    /// from a SplitMix64 sequence seeded once from the system generator: one getrandom call
    /// per endpoint instead of one per tag.
    mutating func makeTag() -> String {
        tagState &+= 0x9E37_79B9_7F4A_7C15
        var z = tagState
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return String(z, radix: 36)
    }
}

enum SIPURIHostPort {
    static func split(_ text: String) throws -> (String, Int?) {
        try SIPURI(parsing: "sip:" + text).hostPort
    }
}

extension SIPURI {
    var hostPort: (String, Int?) { (host, port) }
}

extension SIPAddress {
    func withTag(_ tag: String) -> SIPAddress {
        var copy = self
        if copy.tag == nil { copy.tag = tag }
        return copy
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var sub = Substring(self)
        while let first = sub.first, set.contains(first) { sub = sub.dropFirst() }
        while let last = sub.last, set.contains(last) { sub = sub.dropLast() }
        return String(sub)
    }
}


