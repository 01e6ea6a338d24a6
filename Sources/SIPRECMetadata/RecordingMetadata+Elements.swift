extension RecordingMetadata {
    /// RFC 7865 `<group>` (communication-session group): sessions recorded together.
    public struct Group: Sendable, Equatable, Codable {
        public var id: String
        public var associateTime: String?
        public var disassociateTime: String?
        public var extensions: [ExtensionData]

        public init(id: String, associateTime: String? = nil, disassociateTime: String? = nil, extensions: [ExtensionData] = []) {
            self.id = id
            self.associateTime = associateTime
            self.disassociateTime = disassociateTime
            self.extensions = extensions
        }
    }

    /// RFC 7865 `<session>` (communication session).
    public struct Session: Sendable, Equatable, Codable {
        public var id: String
        public var groupRef: String?
        /// `<sipSessionID>` values as written (RFC 7989 Session-ID with `;remote=`, or a Call-ID).
        public var sipSessionIDs: [String]
        public var startTime: String?
        /// `<end-time>` (or `<stop-time>`).
        public var stopTime: String?
        public var extensions: [ExtensionData]

        public init(id: String, groupRef: String? = nil, sipSessionIDs: [String] = [], startTime: String? = nil,
                    stopTime: String? = nil, extensions: [ExtensionData] = []) {
            self.id = id
            self.groupRef = groupRef
            self.sipSessionIDs = sipSessionIDs
            self.startTime = startTime
            self.stopTime = stopTime
            self.extensions = extensions
        }
    }

    /// RFC 7865 `<nameID>`: an address of record and an optional display name.
    public struct NameID: Sendable, Equatable, Codable {
        /// As written: no scheme or host is added.
        public var aor: String
        /// Trimmed; nil when absent or blank.
        public var name: String?

        public init(aor: String, name: String? = nil) {
            self.aor = aor
            self.name = name
        }
    }

    /// RFC 7865 `<participant>`.
    public struct Participant: Sendable, Equatable, Codable {
        public var id: String
        public var nameIDs: [NameID]
        /// Stream identifiers from `<send>` inside `<participant>` (draft and pre-RFC dialects).
        public var send: [String]
        /// Stream identifiers from `<recv>` inside `<participant>` (draft and pre-RFC dialects).
        public var recv: [String]
        /// `session=` on the participant (draft and pre-RFC dialects).
        public var sessionRef: String?
        /// Association times written inside `<participant>` (draft dialect).
        public var associateTime: String?
        public var disassociateTime: String?
        public var extensions: [ExtensionData]

        public init(id: String, nameIDs: [NameID] = [], send: [String] = [], recv: [String] = [], sessionRef: String? = nil,
                    associateTime: String? = nil, disassociateTime: String? = nil, extensions: [ExtensionData] = []) {
            self.id = id
            self.nameIDs = nameIDs
            self.send = send
            self.recv = recv
            self.sessionRef = sessionRef
            self.associateTime = associateTime
            self.disassociateTime = disassociateTime
            self.extensions = extensions
        }
    }

    /// RFC 7865 `<stream>` (media stream).
    public struct Stream: Sendable, Equatable, Codable {
        public var id: String
        public var sessionRef: String?
        /// The SDP `a=label` value (RFC 4574) that binds the stream to an m-line.
        public var label: String?
        /// `<mode>` where a dialect states it (`mixed`, `separate`).
        public var mode: String?
        public var associateTime: String?
        public var disassociateTime: String?
        public var extensions: [ExtensionData]

        public init(id: String, sessionRef: String? = nil, label: String? = nil, mode: String? = nil,
                    associateTime: String? = nil, disassociateTime: String? = nil, extensions: [ExtensionData] = []) {
            self.id = id
            self.sessionRef = sessionRef
            self.label = label
            self.mode = mode
            self.associateTime = associateTime
            self.disassociateTime = disassociateTime
            self.extensions = extensions
        }
    }

    /// RFC 7865 `<sessionrecordingassoc>`: when a session joined or left the recording.
    public struct SessionRecordingAssociation: Sendable, Equatable, Codable {
        public var sessionID: String
        public var associateTime: String?
        public var disassociateTime: String?

        public init(sessionID: String, associateTime: String? = nil, disassociateTime: String? = nil) {
            self.sessionID = sessionID
            self.associateTime = associateTime
            self.disassociateTime = disassociateTime
        }
    }

    /// RFC 7865 `<participantsessionassoc>`: when a participant joined or left a session.
    public struct ParticipantSessionAssociation: Sendable, Equatable, Codable {
        public var participantID: String
        /// As written; some SRCs put something other than a session id here (CUBE's BYE).
        public var sessionID: String
        public var associateTime: String?
        public var disassociateTime: String?

        public init(participantID: String, sessionID: String, associateTime: String? = nil, disassociateTime: String? = nil) {
            self.participantID = participantID
            self.sessionID = sessionID
            self.associateTime = associateTime
            self.disassociateTime = disassociateTime
        }
    }

    /// RFC 7865 `<participantstreamassoc>`: the streams a participant sends and receives.
    public struct ParticipantStreamAssociation: Sendable, Equatable, Codable {
        public var participantID: String
        public var send: [String]
        public var recv: [String]

        public init(participantID: String, send: [String] = [], recv: [String] = []) {
            self.participantID = participantID
            self.send = send
            self.recv = recv
        }
    }

    /// An unknown or vendor element kept as received, with the identifier of the element it
    /// belongs to.
    public struct ExtensionData: Sendable, Equatable, Codable {
        /// The element it extends: the enclosing group/session/participant/stream id, or the
        /// `parent=` attribute of a pre-RFC `<extensiondata>`; nil for document-level blocks.
        public var parentID: String?
        /// The `id=` of a pre-RFC `<extensiondata>` wrapper.
        public var id: String?
        /// The vendor element (the child of `<extensiondata>`, or the unknown element itself).
        public var element: MetadataElement

        public init(parentID: String? = nil, id: String? = nil, element: MetadataElement) {
            self.parentID = parentID
            self.id = id
            self.element = element
        }

        /// The vendor element as XML text (see `MetadataElement.xml`).
        public var xml: String { element.xml }
    }
}
