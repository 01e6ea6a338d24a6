/// Recording metadata (RFC 7865) of one recording session, as carried in the
/// `application/rs-metadata+xml` part of a SIPREC INVITE, re-INVITE, UPDATE or BYE (RFC 7866).
///
/// ## Dialect tolerance
///
/// SRCs in the field write several generations of the schema, and an unexpected metadata shape
/// must never cost the recording. `parse` therefore accepts:
///
/// * **Namespaces**: RFC 7865 `urn:ietf:params:xml:ns:recording:1` (`.rfc7865`), the draft
///   namespace without `:1` (`.draft`: Acme Packet, AudioCodes "legacy", Metaswitch, Ribbon), the
///   pre-RFC `urn:ietf:params:xml:ns:siprec` with root `recording_metadata` (`.preRFC`: BroadWorks),
///   and any other namespace (or none) when the root's local name is `recording` or
///   `recording_metadata` (`.unknown`). Namespace URIs compare case-insensitively.
/// * **Prefixes**: matching is by local name after namespace processing, so `tns:participant`
///   and `participant` are the same. Children of the root count as recording elements when they
///   are in the root's namespace, in no namespace, or in one of the three recording namespaces;
///   elements in any other namespace (`callData`, `ac:AvayaUCID`, `apkt:*`) are extension data.
/// * **Spelling**: element and attribute names compare with case, `-` and `_` folded away, so
///   `datamode`/`dataMode`, `participantstreamassoc`/`participantStreamAssoc`,
///   `session_id`/`sessionID` and `start-time`/`start_time` all match.
/// * **Draft and pre-RFC shapes**: identifiers in `id=` instead of `participant_id=` etc.; references
///   in `session=` / `group=`; `<aor>` instead of `<nameID aor>`; `<send>`/`<recv>` inside
///   `<participant>` (text, or `<id>` children) instead of `participantstreamassoc`; association
///   times directly inside `<participant>`; `<extensiondata id parent>` blocks.
///
/// Only elements at their schema position are interpreted: a `<participant>` must be a direct
/// child of the root, a `<name>` must sit in that participant's `<nameID>`. Vendor blocks that
/// reuse RFC local names (Ribbon's `<name>` in `callData`, Acme's `<value>`, Metaswitch children in
/// the recording namespace under `<extensiondata>`) stay extension data and never create or rename
/// participants. AORs and identifiers are kept exactly as written; names are trimmed, and a blank
/// name is no name.
public struct RecordingMetadata: Sendable, Equatable, Codable {
    public enum DataMode: String, Sendable, Codable {
        case complete, partial
    }

    /// Which schema the document used: RFC 7865 (urn:ietf:params:xml:ns:recording:1), the draft namespace
    /// without ":1" (urn:ietf:params:xml:ns:recording), or the pre-RFC siprec schema (root recording_metadata,
    /// urn:ietf:params:xml:ns:siprec), or unknown namespace but recognisable element names.
    public enum Dialect: String, Sendable, Codable {
        case rfc7865, draft, preRFC, unknown
    }

    public var dataMode: DataMode
    public var dialect: Dialect
    /// The recording's own identifier where the dialect has one (`id` on the root, or the pre-RFC
    /// `<recording id>` element).
    public var recordingID: String?
    public var groups: [Group]
    public var sessions: [Session]
    public var participants: [Participant]
    public var streams: [Stream]
    public var sessionRecordingAssociations: [SessionRecordingAssociation]
    public var participantSessionAssociations: [ParticipantSessionAssociation]
    public var participantStreamAssociations: [ParticipantStreamAssociation]
    /// Extension blocks that are direct children of the root (blocks inside a group, session,
    /// participant or stream are kept on that element).
    public var extensions: [ExtensionData]

    public init(dataMode: DataMode = .complete, dialect: Dialect = .rfc7865, recordingID: String? = nil,
                groups: [Group] = [], sessions: [Session] = [], participants: [Participant] = [], streams: [Stream] = [],
                sessionRecordingAssociations: [SessionRecordingAssociation] = [],
                participantSessionAssociations: [ParticipantSessionAssociation] = [],
                participantStreamAssociations: [ParticipantStreamAssociation] = [],
                extensions: [ExtensionData] = []) {
        self.dataMode = dataMode
        self.dialect = dialect
        self.recordingID = recordingID
        self.groups = groups
        self.sessions = sessions
        self.participants = participants
        self.streams = streams
        self.sessionRecordingAssociations = sessionRecordingAssociations
        self.participantSessionAssociations = participantSessionAssociations
        self.participantStreamAssociations = participantStreamAssociations
        self.extensions = extensions
    }

    /// Communication-session identifiers in document order.
    public var sessionIDs: [String] { sessions.map(\.id) }

    /// The RFC group identifier: the first `<group>`, else the first session's group reference.
    public var groupID: String? {
        groups.first?.id ?? sessions.lazy.compactMap(\.groupRef).first
    }

    /// The label (SDP `a=label`) of the stream with this identifier.
    public func label(ofStream id: String) -> String? {
        streams.first { $0.id == id }?.label
    }

    /// Every extension block of the document: the root's, then each group's, session's,
    /// participant's and stream's, in document order within each kind.
    public var allExtensions: [ExtensionData] {
        extensions + groups.flatMap(\.extensions) + sessions.flatMap(\.extensions)
            + participants.flatMap(\.extensions) + streams.flatMap(\.extensions)
    }
}
