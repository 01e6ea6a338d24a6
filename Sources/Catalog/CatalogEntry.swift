import Foundation

/// What the catalog keeps of one recording: the fields the list queries filter and sort on,
/// the keys they search (Call-IDs, vendor ids, participants), the files, and the whole record
/// as siprecd journals it (`recordJSON`), which the API returns as it is.
///
/// Built from one line of the records journal (`CatalogEntry(journalLine:)`): the catalog reads
/// only the fields it indexes, so a record that gains fields needs no catalog change.
public struct CatalogEntry: Sendable, Equatable {
    public struct Participant: Sendable, Equatable, Codable {
        public var aor: String?
        public var name: String?
        public var role: String?

        public init(aor: String?, name: String?, role: String?) {
            self.aor = aor
            self.name = name
            self.role = role
        }
    }

    public struct File: Sendable, Equatable, Codable {
        public var channel: Int?
        public var format: String
        public var sampleRate: Int
        public var channels: Int
        public var channelRoles: [String]
        /// `spool` while the file waits for the archive, `archive` once there.
        public var location: String
        public var path: String
        public var bytes: Int
        public var sha256: String?
        public var audioSeconds: Double

        public init(channel: Int? = nil, format: String, sampleRate: Int, channels: Int, channelRoles: [String],
                    location: String, path: String, bytes: Int, sha256: String?, audioSeconds: Double) {
            self.channel = channel
            self.format = format
            self.sampleRate = sampleRate
            self.channels = channels
            self.channelRoles = channelRoles
            self.location = location
            self.path = path
            self.bytes = bytes
            self.sha256 = sha256
            self.audioSeconds = audioSeconds
        }
    }

    public var id: String
    public var interactionID: String
    public var segment: Int
    public var source: String
    /// `active`, `completed`, `recovered` or `failed`.
    public var state: String
    public var tenant: String
    public var startedAt: Date
    public var endedAt: Date?
    public var durationSeconds: Double?
    /// Where the SRC's first dialog came from (`192.0.2.10:5060`).
    public var srcAddress: String?
    public var callIDs: [String]
    public var sessionIDs: [String]
    public var groupID: String?
    /// Every vendor identifier value (UCID, Cisco GUID, BroadWorks ids, x-refci…).
    public var vendorIDs: [String]
    public var participants: [Participant]
    /// The recording's audio: one file, or one per stream (`recording.layout: per-stream`).
    public var files: [File]
    /// The whole record, as one JSON object.
    public var recordJSON: String
    /// The node that recorded it, for a recording received by replication (nil: this node's).
    public var origin: String?

    public init(id: String, interactionID: String, segment: Int, source: String, state: String, tenant: String,
                startedAt: Date, endedAt: Date?, durationSeconds: Double?, srcAddress: String?, callIDs: [String],
                sessionIDs: [String], groupID: String?, vendorIDs: [String], participants: [Participant],
                files: [File], recordJSON: String) {
        self.id = id
        self.interactionID = interactionID
        self.segment = segment
        self.source = source
        self.state = state
        self.tenant = tenant
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.durationSeconds = durationSeconds
        self.srcAddress = srcAddress
        self.callIDs = callIDs
        self.sessionIDs = sessionIDs
        self.groupID = groupID
        self.vendorIDs = vendorIDs
        self.participants = participants
        self.files = files
        self.recordJSON = recordJSON
    }

    /// The tenant of records that name none.
    public static let defaultTenant = "default"

    /// The values a participant search matches by prefix, lowercased: the AOR, its user part
    /// (the number), the number without `+`, and the name.
    public var participantKeys: [String] {
        var keys: [String] = []
        func add(_ value: String?) {
            guard let value, !value.isEmpty else { return }
            let lowered = value.lowercased()
            if !keys.contains(lowered) { keys.append(lowered) }
        }
        for participant in participants {
            add(participant.aor)
            if let aor = participant.aor {
                let user = Self.userPart(of: aor)
                add(user)
                if user.hasPrefix("+") { add(String(user.dropFirst())) }
            }
            add(participant.name)
        }
        return keys
    }

    /// `+15551230001` of `sip:+15551230001@example.com;user=phone` (or of `tel:+1555…`).
    static func userPart(of aor: String) -> String {
        var text = Substring(aor)
        for scheme in ["sips:", "sip:", "tel:"] where text.lowercased().hasPrefix(scheme) {
            text = text.dropFirst(scheme.count)
            break
        }
        if let at = text.firstIndex(of: "@") { text = text[..<at] }
        if let semicolon = text.firstIndex(of: ";") { text = text[..<semicolon] }
        return String(text)
    }
}

extension CatalogEntry {
    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads one line of the records journal. Throws for a line that is not a record (a line
    /// cut short by a crash); the ingest skips and counts it.
    public init(journalLine: some Collection<UInt8>, decoder: JSONDecoder = CatalogEntry.makeDecoder()) throws {
        let bytes = Array(journalLine)
        // The hand-written reader takes the valid UTF-8 lines it fully understands; JSONDecoder
        // decides the rest.
        if let line = String(validating: bytes, as: UTF8.self),
           let entry = bytes.withUnsafeBytes({ JournalLineReader.entry($0, line: line) }) {
            self = entry
            return
        }
        try self.init(decodingJournalLine: bytes, decoder: decoder)
    }

    /// The same with `JSONDecoder` alone: the reference the hand-written reader is tested against.
    init(decodingJournalLine bytes: [UInt8], decoder: JSONDecoder) throws {
        let data = Data(bytes)
        let record: JournalRecord
        do {
            record = try decoder.decode(JournalRecord.self, from: data)
        } catch {
            throw ParseError(description: "not a recording record: \(error)")
        }
        var vendorIDs: [String] = []
        if let ids = record.vendorIDs {
            for value in [ids.ucid, ids.ucidRaw, ids.ciscoGuid, ids.extTrackingID, ids.sessionID] {
                if let value, !value.isEmpty, !vendorIDs.contains(value) { vendorIDs.append(value) }
            }
            for key in (ids.extra ?? [:]).keys.sorted() {
                if let value = ids.extra?[key], !value.isEmpty, !vendorIDs.contains(value) { vendorIDs.append(value) }
            }
        }
        if let leg = record.builtInBridge {
            for value in [leg.refci, leg.farEndRefci, leg.farEndGUID] {
                if let value, !value.isEmpty, !vendorIDs.contains(value) { vendorIDs.append(value) }
            }
        }
        var files = record.files ?? []
        if let file = record.file { files.insert(file, at: 0) }
        var callIDs: [String] = []
        for dialog in record.dialogs ?? [] where !dialog.callID.isEmpty && !callIDs.contains(dialog.callID) {
            callIDs.append(dialog.callID)
        }
        self.init(
            id: record.recordingID,
            interactionID: record.interactionID ?? record.recordingID,
            segment: record.segment ?? 1,
            source: record.source ?? "siprec",
            state: record.state ?? "active",
            tenant: record.tenant ?? Self.defaultTenant,
            startedAt: record.startedAt,
            endedAt: record.endedAt,
            durationSeconds: record.durationSeconds,
            srcAddress: record.dialogs?.first.map(\.source).flatMap { $0.isEmpty ? nil : $0 },
            callIDs: callIDs,
            sessionIDs: record.sessionIDs ?? [],
            groupID: record.groupID,
            vendorIDs: vendorIDs,
            participants: (record.participants ?? []).map { Participant(aor: $0.aor, name: $0.name, role: $0.role) },
            files: files,
            recordJSON: String(decoding: data, as: UTF8.self)
        )
        origin = record.origin
    }

    /// The fields of a journal line the catalog indexes; the rest stays in `recordJSON`.
    private struct JournalRecord: Decodable {
        struct Dialog: Decodable {
            var callID: String
            var source: String
        }
        struct Participant: Decodable {
            var aor: String?
            var name: String?
            var role: String?
        }
        struct VendorIDs: Decodable {
            var ucid: String?
            var ucidRaw: String?
            var ciscoGuid: String?
            var extTrackingID: String?
            var sessionID: String?
            var extra: [String: String]?
        }
        struct BuiltInBridge: Decodable {
            var refci: String?
            var farEndRefci: String?
            var farEndGUID: String?
        }
        var recordingID: String
        var interactionID: String?
        var segment: Int?
        var source: String?
        var state: String?
        var tenant: String?
        var startedAt: Date
        var endedAt: Date?
        var durationSeconds: Double?
        var dialogs: [Dialog]?
        var sessionIDs: [String]?
        var groupID: String?
        var vendorIDs: VendorIDs?
        var builtInBridge: BuiltInBridge?
        var participants: [Participant]?
        var file: File?
        var files: [File]?
        var origin: String?
    }

    /// A decoder for journal lines (dates as the journal writes them); reuse one per batch.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = CatalogDate.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 date"))
            }
            return date
        }
        return decoder
    }
}
