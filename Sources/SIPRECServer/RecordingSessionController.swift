import Cluster
import Foundation
import Logging
import Media
import Metrics
import NIOCore
import NIOPosix
import Recording
import SDP
import SIPCore
import SIPRECMetadata
import SIPStack

/// Answers recording sessions and follows them: decides whether an INVITE can be recorded,
/// reserves media ports, answers its SDP, reads the SIPREC metadata or the Built-in-Bridge /
/// CUBE / plain-call identities, pairs the two CUCM legs into one recording, links segments of
/// one interaction, and keeps each recording's record up to date. Runs on the SIP event loop;
/// the per-recording logic is the pure `RecordingSession`, and records are written by
/// `RecordWriter` on its own thread.
public final class RecordingSessionController: SIPApplication, @unchecked Sendable {
    /// One SIP dialog (a SIPREC session has one, a Built-in-Bridge recording two).
    struct Call {
        var key: ServerTransactionKey
        var dialogID: SIPDialogID?
        var recordingID: String
        var callID: String
        /// `nearend` / `farend` for Built-in-Bridge legs.
        var leg: String?
        var ports: [Int?]
        var isSIPREC: Bool
        var answerer: SDPAnswerer
        var sdpVersion: UInt64 = 1
        /// The SRC's latest SDP, to re-offer the same streams when a re-INVITE has none.
        var lastRemoteSDP: SessionDescription?
        var pendingAnswer: Scheduled<Void>?
    }

    public struct Snapshot: Sendable, Equatable {
        public var activeCalls: Int
        public var portsInUse: Int
        public var activeRecordings: Int
    }

    /// Replaced by a configuration reload (its live keys only; event loop).
    private var configuration: ServerConfiguration
    private let logger: Logger
    let media: MediaRecorder
    /// Recordings that ended and wait for their file (finished, hashed, archived).
    private var finishing: [String: RecordingSession] = [:]
    /// Of those, the files (by channel) not reported out of the spool yet.
    private var partsInSpool: [String: Set<Int>] = [:]
    /// For the BYEs the controller sends on its own (media timeout); set by `SIPService`.
    weak var core: SIPServerCore?
    private var pending: [ServerTransactionKey: Call] = [:]
    private(set) var established: [SIPDialogID: Call] = [:]
    private(set) var recordings: [String: RecordingSession] = [:]
    /// Built-in-Bridge recordings waiting for (or holding) their other leg, by pairing key.
    private var openBridges: [String: String] = [:]
    private var interactions: InteractionIndex
    private var recordingIDs = RecordingIDGenerator()
    private let writer: RecordWriter
    /// Set when SIGTERM starts the drain: new calls and OPTIONS get 503 from then on.
    private(set) var draining = false
    /// Told when the number of calls in progress changes while draining (`SIPService`).
    var onCallCountChanged: ((Int) -> Void)?
    /// BYEs sent by `endAllCalls` that are not answered yet, and who waits for them.
    private var closingBYEs: Set<SIPDialogID> = []
    private var onClosingBYEsDone: (() -> Void)?
    private var rejectionCounters: [String: Counter] = [:]

    public init(configuration: ServerConfiguration, logger: Logger, eventLoop: EventLoop) throws {
        self.configuration = configuration
        self.logger = logger
        self.interactions = InteractionIndex(capacity: configuration.interactionIndexSize)
        self.writer = RecordWriter(dataDirectory: configuration.dataDirectory, logger: logger)
        let events = EventRelay()
        self.media = try MediaRecorder(configuration: configuration, logger: logger) { event in
            eventLoop.execute { events.controller?.handleMedia(event) }
        }
        events.controller = self
    }

    /// A reloaded configuration (`ConfigurationReloadPlan.effective`): new calls and
    /// requests follow it; calls in progress keep what they were set up with (event loop).
    func applyReloaded(_ configuration: ServerConfiguration) {
        self.configuration = configuration
    }

    /// Lets the media engine's events reach the controller without a reference cycle.
    private final class EventRelay: @unchecked Sendable {
        weak var controller: RecordingSessionController?
    }

    /// Pauses or resumes a live recording (on the event loop); false when it is not live.
    func setPaused(recordingID: String, _ paused: Bool, by who: String) -> Bool {
        guard recordings[recordingID] != nil else { return false }
        if recordings[recordingID]?.paused != paused {
            media.engine.setPaused(recordingID: recordingID, paused)
            recordings[recordingID]?.notePause(paused, by: who, at: Date())
            saveRecord(recordingID)
            logger.notice(paused ? "recording paused" : "recording resumed", metadata: ["recording": "\(recordingID)"])
        }
        return true
    }

    /// Ends a live recording: BYE to each of its dialogs (on the event loop).
    func stopRecording(_ recordingID: String, by who: String) -> Bool {
        guard let core, recordings[recordingID] != nil else { return false }
        var stopped = false
        for (id, call) in established where call.recordingID == recordingID {
            established[id] = nil
            core.sendBYE(id, extraHeaders: [SIPHeaderField(name: .reason, value: "SIP;cause=200;text=\"recording stopped\"")])
            finishDialog(call, reason: "stopped by \(who)")
            stopped = true
        }
        if stopped { logger.notice("recording stopped by the API", metadata: ["recording": "\(recordingID)"]) }
        return stopped
    }

    /// Told which records journals each flush appended to (the catalog ingest listens).
    public func onRecordsAppended(_ listener: @escaping @Sendable ([String]) -> Void) {
        writer.appendListener.withLockedValue { $0 = listener }
    }

    /// Whether this node takes new calls, and if not why (on the event loop).
    public var health: HealthVerdict {
        var inputs = HealthInputs()
        inputs.draining = draining
        inputs.recordsWritable = writer.isHealthy
        inputs.spoolHealthy = media.spool.healthy
        inputs.archiveHasSpace = media.spool.archiveHasSpace
        inputs.activeCalls = pending.count + established.count
        inputs.maxCalls = configuration.maxConcurrentCalls
        inputs.freeMediaPorts = media.freePorts
        return HealthVerdict.evaluate(inputs)
    }

    /// Starts the drain: from now on new calls and OPTIONS get 503; calls in progress go on.
    func beginDrain() {
        draining = true
    }

    /// Counts a refused request by reason (`siprecd_sip_rejected_total{reason}`), beside the
    /// reasons the SIP stack counts.
    private func countRejection(_ reason: String) {
        if let counter = rejectionCounters[reason] { return counter.increment() }
        let counter = Counter(label: "siprecd_sip_rejected_total", dimensions: [("reason", reason)])
        rejectionCounters[reason] = counter
        counter.increment()
    }

    /// Starts the media threads after repairing what a crash left in the spool.
    func startMedia() {
        recoverSpool()
        media.start()
    }

    /// Every recording's audio to the spool and every file finished (the media and spool
    /// threads end); records are then written by `flushRecords`. Any thread.
    func stopMedia() {
        media.stopThreads()
    }

    /// Closes the sockets no recording took. On the SIP event loop, after `stopMedia`.
    func closeMediaSockets() {
        media.closeUnattachedSockets()
    }

    public var snapshot: Snapshot {
        Snapshot(activeCalls: pending.count + established.count, portsInUse: media.portsInUse, activeRecordings: recordings.count)
    }

    /// The state of the recording a dialog (by Call-ID) feeds, while it runs (for tests).
    func recordingState(callID: String) -> RecordingRecord? {
        let call = established.values.first { $0.callID == callID } ?? pending.values.first { $0.callID == callID }
        return call.flatMap { recordings[$0.recordingID]?.state }
    }


    /// Ends every call the recorder still has (at the drain timeout, a second SIGTERM, or a
    /// shutdown without drain): INVITEs not answered yet get 503 with Retry-After (the SRC tries
    /// another recorder); recordings still running are ended with a BYE so the SRC stops sending
    /// media here, and their records say why. `whenBYEsDone` runs once every BYE is answered or
    /// its transaction timed out (at once when none was sent).
    public func endAllCalls(core: SIPServerCore, reason: String, whenBYEsDone: (() -> Void)? = nil) {
        for (key, call) in pending {
            call.pendingAnswer?.cancel()
            core.respond(to: key, status: 503, headers: rejectionHeaders(status: 503, retryAfter: HealthProblem.draining.retryAfterSeconds,
                                                                      warning: .misc("recorder shutting down"), core: core))
            finishDialog(call, reason: reason)
            pending[key] = nil
        }
        for (id, call) in established {
            // Out of the table first: the BYE's dialogEnded event then finds nothing to end twice.
            established[id] = nil
            core.sendBYE(id, extraHeaders: [SIPHeaderField(name: .reason, value: "SIP;cause=503;text=\"\(reason)\"")])
            closingBYEs.insert(id)
            finishDialog(call, reason: reason)
        }
        if closingBYEs.isEmpty {
            whenBYEsDone?()
        } else {
            onClosingBYEsDone = whenBYEsDone
        }
    }

    public func flushRecords() async {
        await writer.shutdown()
    }

    public func handle(_ event: SIPEndpointEvent, core: SIPServerCore) {
        switch event {
        case .request(let incoming):
            handleRequest(incoming, core: core)
        case .ack(let dialogID, let request):
            handleACK(dialogID: dialogID, request: request)
        case .cancelled(let key):
            if let call = pending.removeValue(forKey: key) {
                call.pendingAnswer?.cancel()
                finishDialog(call, reason: "cancelled")
                logger.info("recording session cancelled before answer", metadata: ["recording": "\(call.recordingID)"])
            }
        case .dialogEnded(let dialogID, let reason, let bye):
            guard let call = established.removeValue(forKey: dialogID) else { return }
            if let bye, case .success(let body) = SessionBody.parse(bye), let metadata = body.metadata {
                // CUBE sends the final metadata (end time, everyone disassociated) in its BYE.
                recordings[call.recordingID]?.applyMetadata(metadata, method: "BYE", at: Date())
            }
            finishDialog(call, reason: reason.rawValue)
        case .clientResult(_, let dialogID, let result):
            if case .timeout = result { logger.notice("BYE was not answered") }
            if let dialogID, closingBYEs.remove(dialogID) != nil, closingBYEs.isEmpty, let done = onClosingBYEsDone {
                onClosingBYEsDone = nil
                done()
            }
        case .rejected(let reason):
            logger.debug("SIP request rejected", metadata: ["reason": "\(reason.rawValue)"])
        }
    }

    private func handleRequest(_ incoming: SIPIncomingRequest, core: SIPServerCore) {
        let request = incoming.request
        switch request.method {
        case .options where incoming.dialogID == nil:
            // The SBC's keepalive: 503 while this node should not get calls, so it sends
            // them to another recorder before a call is lost to a rejected INVITE.
            let verdict = health
            if let problem = verdict.primary {
                core.respond(to: incoming.key, status: 503,
                             headers: core.capabilityHeaders()
                                + rejectionHeaders(status: 503, retryAfter: verdict.retryAfterSeconds, warning: .misc(problem.text), core: core))
            } else {
                core.respond(to: incoming.key, status: 200, headers: core.capabilityHeaders())
            }
        case .options:
            core.respond(to: incoming.key, status: 200, headers: core.capabilityHeaders())
        case .invite where incoming.dialogID == nil:
            handleInitialINVITE(incoming, core: core)
        case .invite, .update:
            handleSessionUpdate(incoming, core: core)
        default:
            // INFO and anything else the endpoint lets through inside or outside a dialog.
            core.respond(to: incoming.key, status: 200)
        }
    }

    // MARK: - New sessions

    private func refuse(_ incoming: SIPIncomingRequest, core: SIPServerCore, status: Int, warning: Warning? = nil, why: String,
                        reason: String? = nil) {
        core.respond(to: incoming.key, status: status, headers: rejectionHeaders(status: status, warning: warning, core: core))
        countRejection(reason ?? "status\(status)")
        logger.notice("recording session refused", metadata: ["status": "\(status)", "why": "\(why)"])
    }

    /// A new call refused because the node is not healthy: 503 with the Retry-After the
    /// problem asks for, so the SRC records the call on another recorder.
    private func refuse(_ incoming: SIPIncomingRequest, core: SIPServerCore, unhealthy verdict: HealthVerdict) {
        guard let problem = verdict.primary else { return }
        core.respond(to: incoming.key, status: 503, headers: rejectionHeaders(status: 503, retryAfter: verdict.retryAfterSeconds,
                                                                              warning: .misc(problem.text), core: core))
        countRejection(problem.rawValue)
        logger.notice("recording session refused", metadata: ["status": "503", "why": "\(problem.text)"])
    }

    /// RFC 3261 §20.43 warning codes: 304 "media type not available" for streams we cannot
    /// take, 399 (miscellaneous) with our text otherwise.
    struct Warning {
        var code: Int
        var text: String
        static func misc(_ text: String) -> Warning { Warning(code: 399, text: text) }
        static let noRecordableStream = Warning(code: 304, text: "no recordable audio stream")
        static let tooManyStreams = Warning(code: 304, text: "too many media streams")
    }

    /// Retry-After on a 503 (the SBC tries another recorder), Accept on a 415 (RFC 3261
    /// §21.4.16), and the Warning.
    private func rejectionHeaders(status: Int, retryAfter: Int = 5, warning: Warning?, core: SIPServerCore) -> [SIPHeaderField] {
        var headers: [SIPHeaderField] = []
        if status == 503 { headers.append(SIPHeaderField(name: .retryAfter, value: String(retryAfter))) }
        if let warning { headers.append(SIPHeaderField(name: .warning, value: "\(warning.code) siprecd \"\(warning.text)\"")) }
        if status == 415 {
            headers.append(SIPHeaderField(name: .accept, value: core.acceptedContentTypes.joined(separator: ", ")))
        }
        return headers
    }

    /// Our Contact, marked +sip.srs on a recording session (RFC 7866 §6.1.1).
    private func recorderContact(_ incoming: SIPIncomingRequest, isSIPREC: Bool, core: SIPServerCore) -> SIPHeaderField {
        var contact = core.contact(for: incoming.peer, requestURI: incoming.request.uri)
        if isSIPREC { contact.parameters.append(SIPParameter("+sip.srs")) }
        return SIPHeaderField(name: .contact, value: contact.description)
    }

    private func handleInitialINVITE(_ incoming: SIPIncomingRequest, core: SIPServerCore) {
        let request = incoming.request
        // Draining, over capacity, storage failing or full: 503 makes the SRC fail over to
        // another recorder (RFC 3261 §21.5.4); calls in progress keep going.
        let verdict = health
        guard verdict.healthy else {
            if verdict.problems.contains(.recordsNotWritable) { writer.probe() }
            return refuse(incoming, core: core, unhealthy: verdict)
        }
        let body: SessionBody
        switch SessionBody.parse(request) {
        case .success(let parsed): body = parsed
        case .failure(let rejection): return refuse(incoming, core: core, status: rejection.status, warning: .misc(rejection.warning), why: rejection.warning)
        }
        let isSIPREC = Self.isSIPREC(request, hasMetadataPart: body.metadata != nil)
        let bridgeLeg = isSIPREC ? nil : request.from.flatMap(BuiltInBridgeLeg.init(from:))
        let source: RecordingRecord.Source
        if isSIPREC {
            source = .siprec
        } else if bridgeLeg != nil {
            source = .builtInBridge
        } else if request.headers.contains(RecordingSession.ciscoRecordingParticipant) {
            source = .ciscoNetworkBased
        } else {
            source = .plain
        }
        // Rejections on purpose are 403, never a 5xx that would make the SBC fail over.
        if source == .builtInBridge, !configuration.builtInBridgeSources.contains(incoming.peer.remoteAddress) {
            return refuse(incoming, core: core, status: 403, why: "Built-in-Bridge call from a source not in sessions.bib-sources")
        }
        if source == .plain || source == .ciscoNetworkBased, !configuration.plainCallSources.contains(incoming.peer.remoteAddress) {
            return refuse(incoming, core: core, status: 403, why: "plain call from a source not in sessions.plain-sources")
        }

        var call = Call(key: incoming.key, recordingID: "", callID: request.callID ?? "", leg: bridgeLeg?.side.rawValue, ports: [],
                        isSIPREC: isSIPREC, answerer: SDPAnswerer(address: answerAddress(incoming)))
        let ipv6 = call.answerer.address.utf8.contains(UInt8(ascii: ":"))
        let answerSDP: SessionDescription
        if let offer = body.sdp {
            guard offer.media.count <= configuration.maxStreamsPerCall else {
                return refuse(incoming, core: core, status: 488, warning: .tooManyStreams, why: "too many media streams")
            }
            let policy = configuration.srtpPolicy
            call.ports = offer.media.map { SDPAnswerer.isRecordable($0, srtp: policy) ? media.openPort(ipv6: ipv6) : nil }
            guard call.ports.contains(where: { $0 != nil }) else {
                let exhausted = offer.media.contains { SDPAnswerer.isRecordable($0, srtp: policy) }
                releasePorts(call, recordingEnds: false)
                return exhausted ? refuse(incoming, core: core, status: 503, why: "no free media ports", reason: HealthProblem.noMediaPorts.rawValue)
                    : refuse(incoming, core: core, status: 488, warning: .noRecordableStream, why: "no recordable stream")
            }
            call.lastRemoteSDP = offer
            answerSDP = call.answerer.answer(to: offer, ports: call.ports)
        } else {
            // Delayed offer (CUCM, or SIPREC with metadata only): we offer, the ACK answers.
            guard let port = media.openPort(ipv6: ipv6) else {
                return refuse(incoming, core: core, status: 503, why: "no free media ports", reason: HealthProblem.noMediaPorts.rawValue)
            }
            call.ports = [port]
            answerSDP = call.answerer.offer(port: port, srtp: configuration.srtpPolicy)
        }

        let now = Date()
        let (recordingID, isNew) = startOrJoinRecording(source: source, request: request, peer: incoming.peer, leg: bridgeLeg, at: now)
        call.recordingID = recordingID
        if isNew {
            // A per-stream file has a channel per stream the call starts with (both CUCM legs).
            let streams = source == .builtInBridge ? 2 : call.ports.compactMap { $0 }.count
            media.begin(recordingID: recordingID, startedAt: now, callID: call.callID, streams: streams)
        }
        if let metadata = body.metadata {
            recordings[call.recordingID]?.applyMetadata(metadata, gtd: body.gtd, method: "INVITE", at: now)
            linkSegment(call.recordingID)
        }
        if let offer = body.sdp {
            recordings[call.recordingID]?.applySDP(offer, ports: call.ports, leg: call.leg, method: "INVITE", at: now)
        }
        // Until the ACK answers a delayed offer, packets are read with the payload types we offered.
        attachMedia(call, sdp: body.sdp ?? answerSDP)
        saveRecord(call.recordingID)
        logger.info("recording session accepted", metadata: [
            "recording": "\(call.recordingID)", "source": "\(source.rawValue)", "streams": "\(call.ports.compactMap { $0 }.count)",
            "delayedOffer": "\(body.sdp == nil)", "transport": "\(incoming.peer.transport.rawValue)",
        ])
        let answer: @Sendable () -> Void = { [self] in
            guard var call = pending.removeValue(forKey: incoming.key) else { return }
            call.pendingAnswer = nil
            let dialogID = SIPDialogID(callID: request.callID ?? "", localTag: incoming.localTag, remoteTag: request.from?.tag ?? "")
            call.dialogID = dialogID
            established[dialogID] = call
            var headers = [recorderContact(incoming, isSIPREC: call.isSIPREC, core: core),
                           SIPHeaderField(name: .contentType, value: "application/sdp")]
            headers += core.capabilityHeaders().filter { $0.name != .accept }
            core.respond(to: incoming.key, status: 200, headers: headers, body: ByteBuffer(string: answerSDP.text))
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

    /// A Built-in-Bridge leg joins the open recording of its call when the other leg is there;
    /// anything else starts a new recording.
    private func startOrJoinRecording(source: RecordingRecord.Source, request: SIPRequest, peer: SIPPeer,
                                      leg: BuiltInBridgeLeg?, at now: Date) -> (id: String, isNew: Bool) {
        let pairingKey = leg?.pairingKey
        if let leg, let pairingKey, let openID = openBridges[pairingKey], var session = recordings[openID] {
            // The other leg, or a new dialog of a side whose old one has not ended yet (CUCM
            // re-INVITEs as a new dialog on hold/resume): both belong to the open recording.
            session.addDialog(request, peer: peer, leg: leg, at: now)
            recordings[openID] = session
            return (openID, false)
        }
        // An interaction is named after its first recording; later segments take that name.
        let recordingID = recordingIDs.next(milliseconds: UInt64(max(0, (now.timeIntervalSince1970 * 1000).rounded(.down))))
        var session = RecordingSession(recordingID: recordingID, interactionID: recordingID, source: source,
                                       request: request, peer: peer, leg: leg, at: now, metadataLimits: configuration.metadataLimits,
                                       maxMetadataVersions: configuration.maxMetadataVersions)
        session.setTenant(configuration.tenant(for: peer.remoteAddress))
        if leg != nil, pairingKey == nil {
            session.noteProblem("Built-in-Bridge leg without x-refci: recorded alone, not paired")
        }
        if let pairingKey {
            openBridges[pairingKey] = recordingID
            // A leg whose partner's recording already ended is that call's next segment. (The
            // key is noted when a recording that was answered ends, so a cancelled leg never
            // becomes anyone's predecessor.)
            let keys = InteractionIndex.keys(sessionIDs: [], groupID: nil, bibPairingKey: pairingKey)
            if let previous = interactions.find(keys) {
                session.link(interactionID: previous.interactionID, previousRecordingID: previous.recordingID, segment: previous.segment + 1)
            }
        }
        recordings[recordingID] = session
        return (recordingID, true)
    }

    /// A SIPREC recording whose communication session or group was recorded before becomes
    /// the next segment of that interaction. Only the first metadata links (later updates only
    /// make their ids known), so a recording never becomes a segment of a later one.
    private func linkSegment(_ recordingID: String) {
        guard var session = recordings[recordingID] else { return }
        let keys = InteractionIndex.keys(sessionIDs: session.state.sessionIDs, groupID: session.state.groupID, bibPairingKey: nil)
        guard !keys.isEmpty else { return }
        if session.state.metadataVersions.count == 1 {
            link(&session, keys: keys)
            recordings[recordingID] = session
        } else {
            interactions.note(keys, .init(interactionID: session.state.interactionID, recordingID: recordingID, segment: session.state.segment))
        }
    }

    private func link(_ session: inout RecordingSession, keys: [String]) {
        let id = session.state.recordingID
        if session.state.previousRecordingID == nil, let previous = interactions.find(keys), previous.recordingID != id {
            session.link(interactionID: previous.interactionID, previousRecordingID: previous.recordingID, segment: previous.segment + 1)
        }
        interactions.note(keys, .init(interactionID: session.state.interactionID, recordingID: id, segment: session.state.segment))
    }

    // MARK: - During the call

    private func handleACK(dialogID: SIPDialogID, request: SIPRequest) {
        guard var call = established[dialogID], request.body.map({ $0.readableBytes > 0 }) == true else { return }
        guard case .success(let body) = SessionBody.parse(request), let sdp = body.sdp else {
            // Nothing to answer an ACK with: keep the call and say on the recording what went wrong.
            recordings[call.recordingID]?.noteProblem("the SDP in an ACK could not be read")
            saveRecord(call.recordingID)
            return
        }
        // The SDP answer to our delayed offer: only the m-lines we offered carry ports.
        call.lastRemoteSDP = sdp
        established[dialogID] = call
        recordings[call.recordingID]?.applySDP(sdp, ports: call.ports, leg: call.leg, method: "ACK", at: Date())
        attachMedia(call, sdp: sdp)
        saveRecord(call.recordingID)
    }

    /// re-INVITE or UPDATE inside a dialog: metadata changes, media changes, or both. A bad
    /// update is refused but never costs the recording.
    private func handleSessionUpdate(_ incoming: SIPIncomingRequest, core: SIPServerCore) {
        guard let dialogID = incoming.dialogID, var call = established[dialogID] else {
            core.respond(to: incoming.key, status: 481)
            return
        }
        let request = incoming.request
        let method = request.method.rawValue
        let body: SessionBody
        switch SessionBody.parse(request) {
        case .success(let parsed): body = parsed
        case .failure(let rejection):
            // A bad update is refused; the session and its recording go on as they were.
            let status = rejection.status == 415 ? 415 : 488
            core.respond(to: incoming.key, status: status, headers: rejectionHeaders(status: status, warning: .misc(rejection.warning), core: core))
            return
        }
        if let offer = body.sdp, offer.media.count > configuration.maxStreamsPerCall {
            // Refused before anything is applied: a failed re-INVITE leaves the session as it was (RFC 3261 §14.1).
            core.respond(to: incoming.key, status: 488, headers: rejectionHeaders(status: 488, warning: .tooManyStreams, core: core))
            return
        }
        let now = Date()
        if let metadata = body.metadata {
            recordings[call.recordingID]?.applyMetadata(metadata, method: method, at: now)
            linkSegment(call.recordingID)
        }
        recordings[call.recordingID]?.applyCiscoParticipants(request)
        // The 2xx repeats our Contact (RFC 3261 §12.1.1, RFC 3311 §5.2).
        let contactHeader = recorderContact(incoming, isSIPREC: call.isSIPREC, core: core)
        let sdpHeaders = [contactHeader, SIPHeaderField(name: .contentType, value: "application/sdp")]
        if let offer = body.sdp {
            for (index, media) in offer.media.enumerated() {
                if index < call.ports.count {
                    if call.ports[index] == nil, SDPAnswerer.isRecordable(media, srtp: configuration.srtpPolicy) {
                        call.ports[index] = self.media.openPort(ipv6: call.answerer.address.utf8.contains(UInt8(ascii: ":")))
                    }
                } else {
                    call.ports.append(SDPAnswerer.isRecordable(media, srtp: configuration.srtpPolicy) ? self.media.openPort(ipv6: call.answerer.address.utf8.contains(UInt8(ascii: ":"))) : nil)
                }
            }
            call.sdpVersion += 1
            call.lastRemoteSDP = offer
            established[dialogID] = call
            recordings[call.recordingID]?.applySDP(offer, ports: call.ports, leg: call.leg, method: method, at: now)
            attachMedia(call, sdp: offer)
            saveRecord(call.recordingID)
            let answer = call.answerer.answer(to: offer, ports: call.ports, version: call.sdpVersion)
            core.respond(to: incoming.key, status: 200, headers: sdpHeaders, body: ByteBuffer(string: answer.text))
            return
        }
        saveRecord(call.recordingID)
        guard request.method == .invite else {
            // UPDATE without SDP (metadata only, or a session refresh).
            core.respond(to: incoming.key, status: 200, headers: [contactHeader])
            return
        }
        // A re-INVITE without SDP asks for our offer (RFC 3261 §14.2): the streams we hold now.
        call.sdpVersion += 1
        established[dialogID] = call
        let offer: SessionDescription
        if let current = call.lastRemoteSDP {
            offer = call.answerer.answer(to: current, ports: call.ports, version: call.sdpVersion)
        } else {
            offer = call.answerer.offer(port: call.ports.compactMap { $0 }.first ?? 0, version: call.sdpVersion, srtp: configuration.srtpPolicy)
        }
        core.respond(to: incoming.key, status: 200, headers: sdpHeaders, body: ByteBuffer(string: offer.text))
    }

    // MARK: - Ending

    private func finishDialog(_ call: Call, reason: String) {
        // Taken out of the table while it changes: a copy left there would make every array the
        // change touches be copied first.
        guard var session = recordings.removeValue(forKey: call.recordingID) else {
            releasePorts(call, recordingEnds: false)
            return
        }
        let complete = session.endDialog(callID: call.callID, reason: reason, at: Date())
        releasePorts(call, recordingEnds: complete)
        if complete {
            finishing[call.recordingID] = session
            let recordingID = call.recordingID
            media.end(recordingID: recordingID, parties: MediaRecorder.parties(session.participants), eventLoop: loop) { [weak self] finished in
                self?.fileFinished(recordingID, finished)
            }
            if let key = session.state.builtInBridge?.pairingKey, openBridges[key] == call.recordingID {
                openBridges[key] = nil
                if session.state.dialogs.contains(where: { $0.endReason != "cancelled" }) {
                    interactions.note(InteractionIndex.keys(sessionIDs: [], groupID: nil, bibPairingKey: key),
                                      .init(interactionID: session.state.interactionID, recordingID: call.recordingID, segment: session.state.segment))
                }
            }
            logger.info("recording session ended", metadata: [
                "recording": "\(call.recordingID)", "reason": "\(reason)", "source": "\(session.state.source.rawValue)",
            ])
        } else {
            recordings[call.recordingID] = session
        }
        writer.write(session)
        if draining { onCallCountChanged?(pending.count + established.count) }
    }

    private func saveRecord(_ recordingID: String) {
        if let session = recordings[recordingID] { writer.write(session) }
    }

    private func releasePorts(_ call: Call, recordingEnds: Bool) {
        for port in call.ports.compactMap({ $0 }) { media.releasePort(port, recordingEnds: recordingEnds) }
    }

    // MARK: - Media

    private var loop: EventLoop { core?.eventLoop ?? MultiThreadedEventLoopGroup.singleton.next() }

    /// Hands the call's sockets to the media engine (new ones) or tells it of new payload
    /// types, and notes each new stream's channel on the record.
    private func attachMedia(_ call: Call, sdp: SessionDescription) {
        guard let record = recordings[call.recordingID]?.state else { return }
        let placed = media.attach(recordingID: call.recordingID, sdp: sdp, ports: call.ports, leg: call.leg, record: record)
        for item in placed { recordings[call.recordingID]?.setChannel(leg: call.leg, mline: item.mline, channel: item.channel) }
    }

    /// The file of an ended recording is finished (in the archive, still in the spool, or
    /// there is none because no media came): the record says where, with each stream's quality.
    private func fileFinished(_ recordingID: String, _ finished: MediaRecorder.Finished) {
        guard var session = finishing[recordingID] else { return }
        let qualities = MediaRecorder.qualities(finished.reports, startedAt: session.state.startedAt)
        let dtmf = finished.reports.filter { MediaRecorder.parseStreamKey($0.key) != nil }.flatMap(MediaRecorder.dtmf)
        session.applyMedia(qualities: qualities, dtmf: dtmf)
        let outcome = finished.outcome
        var file = Self.audioFile(outcome, source: session.state.source)
        if let channel = outcome.channel {
            // One file of a per-stream recording: it holds the streams of its channel.
            file?.channelRoles = session.state.streams.filter { $0.channel == channel }.map(\.id)
        }
        session.applyFile(file, problem: outcome.problem)
        if outcome.location == nil, !session.state.problems.contains(Self.noMediaProblem) { session.noteProblem(Self.noMediaProblem) }
        // Kept until every file of the recording has left the spool.
        var waiting = partsInSpool[recordingID] ?? Set(0..<max(1, outcome.parts))
        if outcome.location == .spool { waiting.insert(outcome.channel ?? 0) } else { waiting.remove(outcome.channel ?? 0) }
        if waiting.isEmpty {
            finishing[recordingID] = nil
            partsInSpool[recordingID] = nil
        } else {
            finishing[recordingID] = session
            partsInSpool[recordingID] = waiting
        }
        writer.write(session)
        if outcome.location == .archive {
            logger.info("recording archived", metadata: ["recording": "\(recordingID)", "seconds": "\(Int(outcome.audioSeconds.rounded()))"])
        }
    }

    static let noMediaProblem = "no media was received: there is no audio file"

    static func audioFile(_ outcome: SpoolWriter.Outcome, source: RecordingRecord.Source) -> RecordingRecord.AudioFile? {
        guard let location = outcome.location, let path = outcome.path else { return nil }
        return RecordingRecord.AudioFile(channel: outcome.channel, format: outcome.format.rawValue, sampleRate: outcome.sampleRate, channels: outcome.channels,
                                         channelRoles: MediaRecorder.channelRoles(source: source, channels: outcome.channels),
                                         location: location.rawValue, path: path, bytes: outcome.bytes, sha256: outcome.sha256,
                                         audioSeconds: (outcome.audioSeconds * 1000).rounded() / 1000)
    }

    /// Events of the media engine, on the SIP event loop.
    func handleMedia(_ event: MediaEngine.Event) {
        switch event {
        case let .streamSilent(recordingID, key), let .streamResumed(recordingID, key):
            guard recordings[recordingID] != nil else { return }
            let silent: Bool
            if case .streamSilent = event { silent = true } else { silent = false }
            recordings[recordingID]?.noteMedia("\(silent ? "no packets on" : "packets again on") \(key)", at: Date())
            saveRecord(recordingID)
        case let .srtpKeyRefused(recordingID, key, status):
            recordings[recordingID]?.noteProblem("the SRTP key for stream \(key) was refused by libsrtp (status \(status)): its packets are dropped")
            saveRecord(recordingID)
            logger.warning("SRTP key refused", metadata: ["recording": "\(recordingID)", "status": "\(status)"])
        case let .noMedia(recordingID):
            // A paused recording (every stream on hold, as a PCI pause does) sends nothing on
            // purpose: the clock starts again rather than ending the call.
            if let streams = recordings[recordingID]?.state.streams, !streams.isEmpty, streams.allSatisfy({ $0.state == "paused" }) {
                media.engine.restartMediaTimeout(recordingID: recordingID)
                return
            }
            // Nothing to record: end the session so the SRC frees its resources (and notices).
            guard let core else { return }
            for (id, call) in established where call.recordingID == recordingID {
                established[id] = nil
                core.sendBYE(id, extraHeaders: [SIPHeaderField(name: .reason, value: "SIP;cause=200;text=\"no media\"")])
                finishDialog(call, reason: "no media")
            }
            logger.notice("recording ended: no media received", metadata: ["recording": "\(recordingID)"])
        }
    }

    /// Files a crash left in the spool are repaired and archived; their records (found in the
    /// journal of the day they started) are marked recovered.
    /// The record of a recording known only from its spool file (id, start, Call-ID).
    static func rebuiltRecord(_ info: WAVFile.Info) -> RecordingRecord {
        RecordingRecord(
            recordingID: info.recordingID, interactionID: info.recordingID, segment: 1, previousRecordingID: nil, source: .siprec,
            state: .active, startedAt: info.startedAt, endedAt: nil, durationSeconds: nil,
            dialogs: [.init(callID: info.callID, leg: nil, source: "", transport: "", startedAt: info.startedAt, endedAt: nil, endReason: nil)],
            sessionIDs: [], groupID: nil, vendorIDs: VendorIdentifiers(), builtInBridge: nil, participants: [], streams: [],
            metadataVersions: [], metadataVersionsDropped: 0, changes: [], file: nil, files: [], dtmf: [],
            problems: ["the recorder stopped before this call's record was written: rebuilt from the spool file (source, participants and streams unknown)"])
    }

    private func recoverSpool() {
        let recovered = media.spool.recoverSpool { [writer] outcome, info in
            // A file whose move to the archive was retried: its record follows it.
            guard var record = writer.lastRecord(recordingID: outcome.recordingID, startedAt: info.startedAt) else { return }
            if var file = record.file {
                file.location = outcome.location?.rawValue ?? file.location
                file.path = outcome.path ?? file.path
                record.file = file
            } else {
                record.file = Self.audioFile(outcome, source: record.source)
            }
            writer.write(RecordingSession(record: record))
        }
        for item in recovered {
            guard let info = item.info else { continue }
            var session: RecordingSession
            if let record = writer.lastRecord(recordingID: info.recordingID, startedAt: info.startedAt) {
                session = RecordingSession(record: record)
            } else {
                // The process died before the call's first record was flushed: the audio is
                // kept, with a record rebuilt from what the spool file itself says.
                logger.warning("recovered recording had no record in the journal; rebuilt from its spool file", metadata: ["recording": "\(info.recordingID)"])
                session = RecordingSession(record: Self.rebuiltRecord(info))
            }
            if item.converted, var file = session.state.file {
                // A finished recording whose file waited in the spool for the archive.
                file.location = item.outcome.location?.rawValue ?? file.location
                file.path = item.outcome.path ?? file.path
                session.applyFile(file, problem: item.outcome.problem)
            } else {
                session.markRecovered(lastWrite: item.lastWrite)
                session.applyFile(Self.audioFile(item.outcome, source: session.state.source), problem: item.outcome.problem)
            }
            writer.write(session)
            logger.notice("recording recovered from the spool", metadata: [
                "recording": "\(info.recordingID)", "seconds": "\(Int(item.outcome.audioSeconds.rounded()))", "location": "\(item.outcome.location?.rawValue ?? "none")",
            ])
        }
    }

    private func answerAddress(_ incoming: SIPIncomingRequest) -> String {
        if let advertised = configuration.advertisedHost { return advertised }
        if let ip = incoming.peer.localAddress?.ipAddress, ip != "0.0.0.0", ip != "::" { return ip }
        return incoming.request.uri.hostWithoutBrackets
    }

    /// RFC 7866 §6.1.1: `Require: siprec` and/or `+sip.src` on the Contact; older SRCs put a
    /// bare `src` feature tag on the Contact (or inside its URI), or only send an rs-metadata part.
    /// `hasMetadataPart` is what the caller already knows of the body; nil parses it here.
    static func isSIPREC(_ request: SIPRequest, hasMetadataPart: Bool? = nil) -> Bool {
        if request.optionTags(.require).contains("siprec") { return true }
        for contact in request.contacts
        where contact.parameters.has("+sip.src") || contact.parameters.has("src") || contact.uri.parameters.has("+sip.src") {
            return true
        }
        if let hasMetadataPart { return hasMetadataPart }
        if case .success(let body) = SessionBody.parse(request) { return body.metadata != nil }
        return false
    }
}

extension Duration {
    var nanosecondsValue: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

extension BuiltInBridgeLeg {
    /// The Built-in-Bridge identity CUCM puts in the parameters of the From URI.
    init?(from address: SIPAddress) {
        self.init(uriParameters: address.uri.parameters.map { (name: $0.name, value: $0.value) })
    }
}
