import Foundation
import NIOCore
import SDP
import SIPCore
import SIPRECMetadata
import SIPStack

/// One recording, as a value: the requests of its dialogs and their parsed bodies go in, the
/// record (participants, streams, ids, metadata history) comes out. No sockets, clocks or
/// files: the controller passes the time and writes the state.
///
/// What the event loop needs (ids, legs, streams, metadata) is kept up to date in `state`; what
/// only the written record needs (vendor ids, a plain call's parties) is derived in `record`,
/// which the record writer reads on its own thread.
struct RecordingSession: Sendable {
    private(set) var state: RecordingRecord
    /// Paused by an operator (the API), until resumed.
    private(set) var paused = false
    /// The metadata as it stands after every complete and partial update (RFC 7865 §6).
    private(set) var metadata: RecordingMetadata?
    /// The first INVITE's headers and GTD part, where vendor ids and a plain call's parties are found.
    private let initialHeaders: SIPHeaders
    private let initialFrom: SIPAddress?
    private let initialTo: SIPAddress?
    private var gtd: String?
    /// False for a session made from a whole record.
    private let derivesFromRequest: Bool
    private let metadataLimits: MetadataLimits
    private let maxMetadataVersions: Int
    /// Display name on the near-end leg's From, the only place CUCM names the agent.
    private var nearEndName: String?
    /// Participants named by X-Cisco-Recording-Participant, by m-line index.
    private var ciscoParticipants: [CiscoRecordingParticipant] = []
    /// Parties a later re-INVITE no longer named (CUBE network-based recording after a transfer).
    private var departedParticipants: [RecordingRecord.Participant] = []

    init(recordingID: String, interactionID: String, source: RecordingRecord.Source, request: SIPRequest,
         peer: SIPPeer, leg: BuiltInBridgeLeg?, at now: Date, metadataLimits: MetadataLimits, maxMetadataVersions: Int = 64) {
        self.metadataLimits = metadataLimits
        self.maxMetadataVersions = maxMetadataVersions
        derivesFromRequest = true
        initialHeaders = request.headers
        initialFrom = request.from
        initialTo = request.to
        state = RecordingRecord(
            recordingID: recordingID, interactionID: interactionID, segment: 1, previousRecordingID: nil,
            source: source, state: .active, startedAt: now, endedAt: nil, durationSeconds: nil,
            dialogs: [], sessionIDs: [], groupID: nil, vendorIDs: VendorIdentifiers(),
            builtInBridge: leg, participants: [], streams: [], metadataVersions: [], metadataVersionsDropped: 0, changes: [],
            file: nil, files: [], dtmf: [], problems: [])
        addDialog(request, peer: peer, leg: leg, at: now)
        switch source {
        case .plain:
            break
        case .ciscoNetworkBased:
            ciscoParticipants = Self.ciscoParticipants(request)
            refreshParticipants()
        case .builtInBridge, .siprec:
            refreshParticipants()
        }
    }

    /// A session standing for a record that is already whole (nothing left to derive).
    init(record: RecordingRecord) {
        state = record
        initialHeaders = SIPHeaders()
        initialFrom = nil
        initialTo = nil
        metadataLimits = MetadataLimits()
        maxMetadataVersions = 64
        derivesFromRequest = false
    }

    // MARK: - Events

    /// A further dialog joins the recording (the other Built-in-Bridge leg).
    mutating func addDialog(_ request: SIPRequest, peer: SIPPeer, leg: BuiltInBridgeLeg?, at now: Date) {
        state.dialogs.append(RecordingRecord.Dialog(
            callID: request.callID ?? "", leg: leg?.side.rawValue, source: peer.remoteAddress.ipAddress.map { "\($0):\(peer.remoteAddress.port ?? 0)" } ?? "",
            transport: peer.transport.rawValue.lowercased(), startedAt: now, endedAt: nil, endReason: nil))
        if let leg, leg.side == .nearEnd, let from = request.from {
            nearEndName = Self.trimmedName(from.displayName)
        }
        if state.builtInBridge == nil { state.builtInBridge = leg }
        if state.source == .builtInBridge { refreshParticipants() }
    }

    var hasOpenDialogs: Bool { state.dialogs.contains { $0.endedAt == nil } }

    /// The SRC's SDP (an offer, or the answer in the ACK after our delayed offer) with the
    /// ports we answered each m-line with (nil: refused).
    mutating func applySDP(_ sdp: SessionDescription, ports: [Int?], leg: String?, method: String, at now: Date) {
        var what: [String] = []
        // The first SDP of a dialog describes it; later ones change it.
        let isChange = state.streams.contains { $0.leg == leg }
        for (index, media) in sdp.media.enumerated() {
            let id = Self.streamID(label: media.label, leg: leg, index: index)
            let localPort = index < ports.count ? ports[index] : nil
            let connection = media.connectionAddress ?? sdp.connectionAddress
            let paused = media.direction == .inactive || media.direction == .recvonly || media.port == 0
                || connection == "0.0.0.0" || connection == "::"
            var stream = RecordingRecord.Stream(
                id: id, leg: leg, mline: index, label: media.label, media: media.type.lowercased(),
                codec: SDPAnswerer.chooseCodec(media).flatMap { SDPAnswerer.encodingName($0, in: media) }
                    ?? media.formats.first.flatMap { SDPAnswerer.encodingName($0, in: media) },
                srtp: SDPAnswerer.isSecure(media), srtpSuite: SDPAnswerer.chooseCrypto(media)?.suite.name, localPort: localPort,
                remote: connection.map { "\($0):\(media.port)" }, state: paused ? "paused" : "active")
            if let existing = state.streams.firstIndex(where: { $0.leg == leg && $0.mline == index }) {
                let before = state.streams[existing]
                stream.channel = before.channel
                if before.state != stream.state { what.append("\(stream.state == "paused" ? "hold" : "resume") \(id)") }
                if before.codec != stream.codec { what.append("codec \(id)") }
                if before.remote != stream.remote, before.state == stream.state { what.append("media address \(id)") }
                state.streams[existing] = stream
            } else {
                if isChange { what.append("stream added \(id)") }
                state.streams.append(stream)
            }
        }
        // An offer that changes nothing (an RFC 4028 refresh, a repeated offer) is not a change.
        if isChange, !what.isEmpty { noteChange(method: method, what: what, at: now) }
        // SIPREC parties send labels, which do not change with the SDP; the others send streams.
        if state.source != .siprec { refreshParticipants() }
    }

    /// A metadata document from an INVITE, re-INVITE, UPDATE or BYE. A document that does not
    /// parse is kept raw and flagged; it never costs the recording.
    mutating func applyMetadata(_ bytes: ByteBuffer, gtd: String? = nil, method: String, at now: Date) {
        if let gtd, self.gtd == nil { self.gtd = gtd }
        let raw = String(decoding: bytes.readableBytesView, as: UTF8.self)
        var version = RecordingRecord.MetadataVersion(receivedAt: now, method: method, dataMode: nil, dialect: nil, error: nil, xml: raw)
        do {
            let parsed = try RecordingMetadata.parse(bytes.readableBytesView, limits: metadataLimits)
            version.dataMode = parsed.dataMode.rawValue
            version.dialect = parsed.dialect.rawValue
            if var current = metadata {
                current.apply(parsed)
                metadata = current
            } else {
                metadata = parsed
            }
        } catch {
            version.error = error.description
            state.problems.append("metadata version \(state.metadataVersions.count + state.metadataVersionsDropped + 1) (\(method)) not parsed: \(error.description)")
        }
        state.metadataVersions.append(version)
        if state.metadataVersions.count > max(2, maxMetadataVersions) {
            state.metadataVersions.remove(at: 1)
            state.metadataVersionsDropped += 1
        }
        if let metadata {
            state.sessionIDs = metadata.sessionIDs
            state.groupID = metadata.groupID
        }
        if method != "INVITE" || state.metadataVersions.count > 1 { noteChange(method: method, what: ["metadata"], at: now) }
        refreshParticipants()
    }

    /// CUBE network-based recording names the parties again in a re-INVITE after a transfer.
    mutating func applyCiscoParticipants(_ request: SIPRequest) {
        let named = Self.ciscoParticipants(request)
        guard !named.isEmpty, named != ciscoParticipants else { return }
        // Parties no longer named stay in the record as disassociated.
        departedParticipants += state.participants
            .filter { participant in participant.associated && !named.contains { $0.aor == participant.aor } }
            .map(\.departed)
        departedParticipants.removeAll { old in named.contains { $0.aor == old.aor } }
        ciscoParticipants = named
        refreshParticipants()
    }

    /// Returns true when this was the last open dialog: the recording is complete.
    @discardableResult
    mutating func endDialog(callID: String, reason: String, at now: Date) -> Bool {
        if let index = state.dialogs.firstIndex(where: { $0.callID == callID && $0.endedAt == nil }) {
            state.dialogs[index].endedAt = now
            state.dialogs[index].endReason = reason
        }
        guard !hasOpenDialogs else { return false }
        if state.source == .builtInBridge {
            for side in [BuiltInBridgeLeg.Side.nearEnd, .farEnd] where !state.dialogs.contains(where: { $0.leg == side.rawValue }) {
                state.problems.append("the \(side.rawValue) leg never arrived")
            }
        }
        state.state = .completed
        state.endedAt = now
        state.durationSeconds = max(0, now.timeIntervalSince(state.startedAt))
        return true
    }

    /// Which channel of the file a stream is recorded in.
    mutating func setChannel(leg: String?, mline: Int, channel: Int) {
        guard let index = state.streams.firstIndex(where: { $0.leg == leg && $0.mline == mline }) else { return }
        state.streams[index].channel = channel
    }

    /// What the media engine received on each stream, when the recording ends.
    mutating func applyMedia(qualities: [(leg: String?, mline: Int, quality: RecordingRecord.StreamQuality)], dtmf: [RecordingRecord.DTMF]) {
        applyQualities(qualities)
        state.dtmf = dtmf.sorted { $0.at < $1.at }
    }

    /// Each stream's counters, by leg and m-line (so far, for a live call; final at the end).
    mutating func applyQualities(_ qualities: [(leg: String?, mline: Int, quality: RecordingRecord.StreamQuality)]) {
        for item in qualities {
            if let index = state.streams.firstIndex(where: { $0.leg == item.leg && $0.mline == item.mline }) {
                state.streams[index].quality = item.quality
            }
        }
    }

    /// Something the media engine noticed during the call (a stream went silent, came back).
    mutating func noteMedia(_ what: String, at now: Date) {
        noteChange(method: "media", what: [what], at: now)
    }

    /// Paused or resumed by an operator (API): the file holds silence in between.
    mutating func notePause(_ paused: Bool, by who: String, at now: Date) {
        self.paused = paused
        noteChange(method: "api", what: ["\(paused ? "paused" : "resumed") by \(who)"], at: now)
    }

    /// A file found in the spool after a crash: the recording ended when it was last written.
    mutating func markRecovered(lastWrite: Date) {
        state.state = .recovered
        if state.endedAt == nil {
            state.endedAt = lastWrite
            state.durationSeconds = max(0, lastWrite.timeIntervalSince(state.startedAt))
        }
        for index in state.dialogs.indices where state.dialogs[index].endedAt == nil {
            state.dialogs[index].endedAt = lastWrite
            state.dialogs[index].endReason = "recorder crashed"
        }
        noteProblem("recovered after the recorder stopped unexpectedly: audio up to the last write before it stopped")
    }

    /// The audio file, once finished (again when it moves from the spool to the archive); a
    /// per-stream file (with its channel) joins `files`, replacing the one of that channel.
    mutating func applyFile(_ file: RecordingRecord.AudioFile?, problem: String?) {
        if let file, let channel = file.channel {
            state.files.removeAll { $0.channel == channel }
            state.files.append(file)
            state.files.sort { ($0.channel ?? 0) < ($1.channel ?? 0) }
        } else {
            state.file = file
        }
        if let problem, !state.problems.contains(problem) { state.problems.append(problem) }
    }

    mutating func noteProblem(_ problem: String) {
        state.problems.append(problem)
    }

    /// Assigns the recording to a tenant (nil: `default`).
    mutating func setTenant(_ tenant: String?) {
        state.tenant = tenant
    }

    /// Links this recording to the one before it in the same interaction.
    mutating func link(interactionID: String, previousRecordingID: String, segment: Int) {
        state.interactionID = interactionID
        state.previousRecordingID = previousRecordingID
        state.segment = segment
    }

    // MARK: - Derived state

    /// The whole record: `state` plus what is derived from the first INVITE and the metadata
    /// only when the record is written (vendor ids, a plain call's parties).
    var record: RecordingRecord {
        guard derivesFromRequest else { return state }
        var record = state
        let headers = initialHeaders.map { (name: $0.rawName, value: $0.value) }
        record.vendorIDs = VendorIdentifiers.extract(headers: headers, metadata: metadata, gtd: gtd)
        if record.source == .plain { record.participants = plainParticipants() }
        return record
    }

    /// The record's participants without the rest of `record` (a call's end needs only these,
    /// for the archive name; the vendor ids are not worth deriving there).
    var participants: [RecordingRecord.Participant] {
        derivesFromRequest && state.source == .plain ? plainParticipants() : state.participants
    }

    private mutating func noteChange(method: String, what: [String], at now: Date) {
        if let last = state.changes.last, last.at == now, last.method == method {
            state.changes[state.changes.count - 1].what += what
        } else {
            state.changes.append(RecordingRecord.Change(at: now, method: method, what: what))
        }
    }

    private mutating func refreshParticipants() {
        switch state.source {
        case .siprec:
            guard let metadata else { return }
            let current = metadata.resolvedParticipants().map {
                RecordingRecord.Participant(id: $0.id, aor: $0.aor, name: $0.name, role: nil, device: nil, sends: $0.sends,
                                            receives: $0.receives, associated: $0.associated,
                                            associateTime: $0.associateTime, disassociateTime: $0.disassociateTime)
            }
            // A complete update that no longer lists someone replaces the state (RFC 7865), but
            // the record keeps everyone who was on the call, as disassociated.
            let departed = state.participants.filter { old in !current.contains { $0.id == old.id } }.map(\.departed)
            state.participants = current + departed
        case .builtInBridge:
            guard let leg = state.builtInBridge else { return }
            let near = state.streams.filter { $0.leg == BuiltInBridgeLeg.Side.nearEnd.rawValue }.map(\.id)
            let far = state.streams.filter { $0.leg == BuiltInBridgeLeg.Side.farEnd.rawValue }.map(\.id)
            state.participants = [
                RecordingRecord.Participant(id: nil, aor: leg.nearEndAddr, name: nearEndName, role: "nearend", device: leg.nearEndDevice,
                                            sends: near, receives: far, associated: true, associateTime: nil, disassociateTime: nil),
                RecordingRecord.Participant(id: nil, aor: leg.farEndAddr, name: nil, role: "farend", device: leg.farEndDevice,
                                            sends: far, receives: near, associated: true, associateTime: nil, disassociateTime: nil),
            ]
        case .ciscoNetworkBased:
            state.participants = ciscoParticipants.map { named in
                let sends = named.mediaIndices.compactMap { index in state.streams.first { $0.leg == nil && $0.mline == index }?.id }
                let receives = state.streams.filter { $0.leg == nil && !named.mediaIndices.contains($0.mline) }.map(\.id)
                return RecordingRecord.Participant(id: nil, aor: named.aor, name: nil, role: nil, device: nil, sends: sends,
                                                   receives: receives, associated: true, associateTime: nil, disassociateTime: nil)
            } + departedParticipants
        case .plain:
            return
        }
    }

    static func streamID(label: String?, leg: String?, index: Int) -> String {
        if let leg { return index == 0 ? leg : "\(leg):\(index)" }
        return label ?? "m\(index)"
    }

    static let ciscoRecordingParticipant = SIPHeaderName("X-Cisco-Recording-Participant")

    static func ciscoParticipants(_ request: SIPRequest) -> [CiscoRecordingParticipant] {
        request.headers.values(ciscoRecordingParticipant).compactMap { CiscoRecordingParticipant(headerValue: $0) }
    }
    static let pAssertedIdentity = SIPHeaderName("P-Asserted-Identity")
    static let remotePartyID = SIPHeaderName("Remote-Party-ID")

    /// Caller from P-Asserted-Identity, Remote-Party-ID or From; callee from To.
    func plainParticipants() -> [RecordingRecord.Participant] {
        func header(_ name: SIPHeaderName) -> SIPAddress? {
            initialHeaders.firstValue(name).flatMap { try? SIPAddress(parsing: $0) }
        }
        var result: [RecordingRecord.Participant] = []
        if let caller = header(Self.pAssertedIdentity) ?? header(Self.remotePartyID) ?? initialFrom {
            result.append(Self.participant(caller, role: "caller"))
        }
        if let callee = initialTo { result.append(Self.participant(callee, role: "callee")) }
        return result
    }

    private static func participant(_ address: SIPAddress, role: String) -> RecordingRecord.Participant {
        var uri = address.uri
        uri.parameters = []
        uri.headers = nil
        uri.port = nil
        return RecordingRecord.Participant(id: nil, aor: uri.description, name: trimmedName(address.displayName), role: role, device: nil,
                                           sends: [], receives: [], associated: true, associateTime: nil, disassociateTime: nil)
    }

    static func trimmedName(_ name: String?) -> String? {
        guard let trimmed = name?.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"")),
              !trimmed.isEmpty else { return nil }
        return trimmed
    }
}

extension RecordingRecord.Participant {
    /// The same party, no longer on the call: disassociated, sending and receiving nothing.
    var departed: RecordingRecord.Participant {
        var participant = self
        participant.associated = false
        participant.sends = []
        participant.receives = []
        return participant
    }
}
