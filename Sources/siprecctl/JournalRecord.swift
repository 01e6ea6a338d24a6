/// The `record` member of a recording: the record as siprecd journals it. Only what `show`
/// prints is decoded, every member optional.
struct JournalRecord: Decodable, Sendable {
    struct Dialog: Decodable, Sendable {
        var callID: String?
        var leg: String?
        var source: String?
        var transport: String?
        var startedAt: String?
        var endedAt: String?
        var endReason: String?
    }

    struct Stream: Decodable, Sendable {
        var id: String?
        var leg: String?
        var mline: Int?
        var label: String?
        var media: String?
        var codec: String?
        var srtp: Bool?
        var srtpSuite: String?
        var localPort: Int?
        var remote: String?
        var state: String?
        var channel: Int?
        var quality: Quality?
    }

    struct Quality: Decodable, Sendable {
        var packets: Int?
        var lost: Int?
        var duplicates: Int?
        var late: Int?
        var srtpFailures: Int?
        var jitterMs: Double?
        var undecodable: Int?
        var notDecoded: [String]?
    }

    struct AudioFile: Decodable, Sendable {
        var channel: Int?
        var format: String?
        var sampleRate: Int?
        var channels: Int?
        var channelRoles: [String]?
        var location: String?
        var path: String?
        var bytes: Int?
        var sha256: String?
        var audioSeconds: Double?
    }

    struct Participant: Decodable, Sendable {
        var id: String?
        var aor: String?
        var name: String?
        var role: String?
        var device: String?
        var sends: [String]?
        var receives: [String]?
        var associated: Bool?
        var associateTime: String?
        var disassociateTime: String?
    }

    /// Vendor call ids; `extra` holds the ones without a member of their own (x-refci…).
    struct VendorIDs: Decodable, Sendable {
        var ucid: String?
        var ciscoGuid: String?
        var extTrackingID: String?
        var sessionID: String?
        var extra: [String: String]

        private enum CodingKeys: String, CodingKey {
            case ucid, ciscoGuid, extTrackingID, sessionID, extra
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            ucid = try? container.decodeIfPresent(String.self, forKey: .ucid)
            ciscoGuid = try? container.decodeIfPresent(String.self, forKey: .ciscoGuid)
            extTrackingID = try? container.decodeIfPresent(String.self, forKey: .extTrackingID)
            sessionID = try? container.decodeIfPresent(String.self, forKey: .sessionID)
            extra = (try? container.decodeIfPresent([String: String].self, forKey: .extra)) ?? [:]
        }

        /// `label value` pairs in a stable order.
        var labelled: [(label: String, value: String)] {
            var pairs: [(String, String)] = []
            if let ucid { pairs.append(("UCID", ucid)) }
            if let ciscoGuid { pairs.append(("Cisco GUID", ciscoGuid)) }
            if let extTrackingID { pairs.append(("ExtTrackingID", extTrackingID)) }
            if let sessionID { pairs.append(("Session-ID", sessionID)) }
            for key in extra.keys.sorted() { pairs.append((key, extra[key] ?? "")) }
            return pairs
        }
    }

    struct Change: Decodable, Sendable {
        var at: String?
        var method: String?
        var what: [String]?
    }

    struct DTMF: Decodable, Sendable {
        var stream: String?
        var event: String?
        var at: Double?
        var durationMs: Int?
    }

    struct MetadataVersion: Decodable, Sendable {
        var receivedAt: String?
        var method: String?
    }

    var recordingID: String?
    var previousRecordingID: String?
    var dialogs: [Dialog]?
    var sessionIDs: [String]?
    var groupID: String?
    var vendorIDs: VendorIDs?
    var participants: [Participant]?
    var streams: [Stream]?
    var metadataVersions: [MetadataVersion]?
    var metadataVersionsDropped: Int?
    var changes: [Change]?
    var file: AudioFile?
    var files: [AudioFile]?
    var dtmf: [DTMF]?
    var problems: [String]?
}
