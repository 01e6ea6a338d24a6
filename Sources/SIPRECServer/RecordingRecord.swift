import Foundation
import SIPRECMetadata

/// Everything siprecd learned about one recording: who was on the call, which stream each
/// party sent, the ids the SRC gave it, every metadata version with the time it arrived, and
/// how it ended. Written as JSON beside the recording (`RecordWriter`); the catalog stores
/// the same structure later.
public struct RecordingRecord: Codable, Sendable, Equatable {
    public enum Source: String, Codable, Sendable {
        /// RFC 7866 recording session with RFC 7865 metadata (or an older SIPREC dialect).
        case siprec
        /// Cisco Unified CM Built-in-Bridge: two plain INVITEs, near end and far end.
        case builtInBridge = "cucm-bib"
        /// Cisco CUBE network-based recording: X-Cisco-Recording-Participant headers.
        case ciscoNetworkBased = "cube-nbr"
        /// Any other INVITE from a trusted source.
        case plain
    }

    public enum State: String, Codable, Sendable {
        case active, completed
        /// Found in the spool after a crash: repaired (audio up to the last flush) and archived.
        case recovered
    }

    /// One SIP dialog that feeds the recording (two for Built-in-Bridge).
    public struct Dialog: Codable, Sendable, Equatable {
        public var callID: String
        /// `nearend` / `farend` for Built-in-Bridge legs.
        public var leg: String?
        public var source: String
        public var transport: String
        public var startedAt: Date
        public var endedAt: Date?
        public var endReason: String?
    }

    /// One offered m-line.
    public struct Stream: Codable, Sendable, Equatable {
        /// What participants' `sends`/`receives` refer to: the `a=label`, else `leg:index`.
        public var id: String
        public var leg: String?
        public var mline: Int
        public var label: String?
        public var media: String
        public var codec: String?
        public var srtp: Bool
        /// The SDES suite of the SRC's key we decrypt with.
        public var srtpSuite: String?
        /// Our receiving port; nil when the stream was refused (port 0 in the answer).
        public var localPort: Int?
        /// Where the SRC sends from, as its SDP says (`c=` address and m-line port).
        public var remote: String?
        /// `active`, or `paused` while the SRC holds it (`a=inactive`, `c=0.0.0.0`, port 0).
        public var state: String
        /// The channel of the file it is recorded in.
        public var channel: Int?
        /// What was received, known when the recording ends.
        public var quality: StreamQuality?
    }

    /// Counters of one stream's packets (RFC 3550 A.3 for loss).
    public struct StreamQuality: Codable, Sendable, Equatable {
        public var packets: Int
        public var lost: Int
        public var duplicates: Int
        /// Arrived after their place in the file was written.
        public var late: Int
        public var sourceChanges: Int
        public var timestampJumps: Int
        public var clockCorrections: Int
        public var undecodable: Int
        public var unknownPayload: Int
        public var malformed: Int
        /// SRTP packets that failed authentication or replay checks (dropped).
        public var srtpFailures: Int
        /// Interarrival jitter measured here (RFC 3550 A.8).
        public var jitterMs: Double
        public var rtcpPackets: Int
        /// The SRC's own count of packets sent, from its latest sender report.
        public var senderReportedPackets: Int?
        /// The latest RTCP report block from the SRC: loss and jitter it saw.
        public var reportedFractionLost: Double?
        public var reportedJitterMs: Double?
        public var firstPacketAt: Date?
        public var lastPacketAt: Date?
        /// Codecs received that this build records as silence.
        public var notDecoded: [String]
    }

    /// The audio file: where it is and what it holds.
    public struct AudioFile: Codable, Sendable, Equatable {
        /// With `recording.layout: per-stream`, the channel of the call this file holds.
        public var channel: Int?
        public var format: String
        public var sampleRate: Int
        public var channels: Int
        /// Who is on each channel: `caller`/`callee`, `nearend`/`farend`, or `mix`.
        public var channelRoles: [String]
        /// `spool` while it waits for the archive, `archive` once there.
        public var location: String
        public var path: String
        public var bytes: Int
        public var sha256: String?
        public var audioSeconds: Double
    }

    /// An RFC 4733 event, placed on the recording's timeline.
    public struct DTMF: Codable, Sendable, Equatable {
        public var stream: String
        public var event: String
        /// Seconds from the start of the file.
        public var at: Double
        public var durationMs: Int
    }

    public struct Participant: Codable, Sendable, Equatable {
        public var id: String?
        public var aor: String?
        public var name: String?
        /// `nearend` / `farend` (Built-in-Bridge), `caller` / `callee` (plain INVITE).
        public var role: String?
        public var device: String?
        public var sends: [String]
        public var receives: [String]
        public var associated: Bool
        public var associateTime: String?
        public var disassociateTime: String?
    }

    public struct MetadataVersion: Codable, Sendable, Equatable {
        public var receivedAt: Date
        public var method: String
        public var dataMode: String?
        public var dialect: String?
        /// Set when the document could not be parsed; the recording goes on regardless.
        public var error: String?
        public var xml: String
    }

    /// A change during the call: a re-INVITE or UPDATE, hold, resume, a stream added.
    public struct Change: Codable, Sendable, Equatable {
        public var at: Date
        public var method: String
        public var what: [String]
    }

    public var recordingID: String
    /// Recordings of one conversation share it (SRC failover, transfer, a late BIB leg).
    public var interactionID: String
    public var segment: Int
    public var previousRecordingID: String?
    public var source: Source
    public var state: State
    public var startedAt: Date
    public var endedAt: Date?
    public var durationSeconds: Double?
    public var dialogs: [Dialog]
    /// RFC 7865 communication-session ids and group id.
    public var sessionIDs: [String]
    public var groupID: String?
    public var vendorIDs: VendorIdentifiers
    public var builtInBridge: BuiltInBridgeLeg?
    public var participants: [Participant]
    public var streams: [Stream]
    /// Every metadata document received, with its arrival time: the first one and the latest
    /// `sessions.metadata.max-versions - 1`; `metadataVersionsDropped` counts those in between
    /// that were let go (an SRC updating without end must not grow a recording without end).
    public var metadataVersions: [MetadataVersion]
    public var metadataVersionsDropped: Int
    public var changes: [Change]
    /// The recording's audio; nil while the call is live, and for a call that sent no media.
    public var file: AudioFile?
    /// With `recording.layout: per-stream`: a mono file per stream (`file` stays nil).
    public var files: [AudioFile]
    public var dtmf: [DTMF]
    /// Things an operator should know (metadata that did not parse, a leg that never came).
    public var problems: [String]
    /// Whose recording it is, by the SRC's address (`sessions.tenants`); nil: `default`.
    public var tenant: String? = nil
}
