import Catalog
import Foundation

/// A live call as the API shows it.
public struct LiveCall: Sendable, Encodable {
    public struct Participant: Sendable, Encodable {
        public var aor: String?
        public var name: String?
        public var role: String?
        public init(aor: String?, name: String?, role: String?) {
            self.aor = aor
            self.name = name
            self.role = role
        }
    }

    public struct Stream: Sendable, Encodable {
        public var id: String
        public var label: String?
        public var codec: String?
        public var srtp: Bool
        public var state: String
        /// Packet counters: known when the recording ends (null while it is live).
        public var packets: Int?
        public var lost: Int?
        public var late: Int?
        public var jitterMs: Double?
        public var srtpFailures: Int?
        public init(id: String, label: String?, codec: String?, srtp: Bool, state: String, packets: Int?, lost: Int?,
                    late: Int?, jitterMs: Double?, srtpFailures: Int?) {
            self.id = id
            self.label = label
            self.codec = codec
            self.srtp = srtp
            self.state = state
            self.packets = packets
            self.lost = lost
            self.late = late
            self.jitterMs = jitterMs
            self.srtpFailures = srtpFailures
        }
    }

    public var recordingId: String
    public var source: String
    public var tenant: String
    public var startedAt: String
    public var paused: Bool
    public var callIds: [String]
    public var participants: [Participant]
    public var streams: [Stream]

    public init(recordingId: String, source: String, tenant: String, startedAt: Date, paused: Bool, callIds: [String],
                participants: [Participant], streams: [Stream]) {
        self.recordingId = recordingId
        self.source = source
        self.tenant = tenant
        self.startedAt = CatalogDate.format(startedAt)
        self.paused = paused
        self.callIds = callIds
        self.participants = participants
        self.streams = streams
    }
}

/// What the API asks of the running recorder; the server composition implements it.
public protocol LiveCallControl: Sendable {
    func liveCalls() async -> [LiveCall]
    /// Nil when no live call has that recording id.
    func pause(recordingID: String) async -> LiveCall?
    func resume(recordingID: String) async -> LiveCall?
    /// Ends the recording and sends BYE; false when no live call has that id.
    func stop(recordingID: String) async -> Bool
}

/// Converts an archived file to another format for `?format=` (libsndfile in the server).
public protocol AudioTranscoder: Sendable {
    /// `source` in `format`, as a file the transcoder keeps (its cache of conversions): the
    /// caller reads it and leaves it in place. A player's range requests then cost one
    /// conversion, not one each.
    func transcode(_ source: URL, to format: String) async throws -> URL
    /// The formats `?format=` accepts, e.g. `wav`, `flac`, `ogg`, `mp3`.
    var formats: [String] { get }
}

/// Receives recordings replicated by peer nodes (`/api/v1/replication/…`).
public protocol ReplicationReceiver: Sendable {
    /// Bytes of file `index` received so far, and whether the recording is already stored.
    func status(recordingID: String, index: Int) async throws -> (receivedBytes: Int64, committed: Bool)
    /// Appends a chunk at `offset` (0 starts over); returns the bytes received. Throws
    /// `ReplicationReceiveError.offsetMismatch` when `offset` is not where the file ends.
    func append(recordingID: String, index: Int, offset: Int64, bytes: [UInt8]) async throws -> Int64
    /// Verifies and stores the recording (manifest JSON); true when it was new.
    func commit(recordingID: String, manifest: [UInt8]) async throws -> Bool
}

/// How a replication request failed, for its HTTP status.
public enum ReplicationReceiveError: Error {
    /// 409 with the bytes received, so the sender resumes there.
    case offsetMismatch(received: Int64)
    /// 422: the files do not match the manifest (checksum or size); the sender sends again.
    case unprocessable(String)
    /// 409: the archive holds different audio at that path.
    case conflict(String)
    /// 400.
    case invalid(String)
}

/// One readiness check: `ok`, or what is wrong.
public struct ReadinessReport: Sendable {
    public var checks: [String: String]
    public var ready: Bool { checks.values.allSatisfy { $0 == "ok" } }
    public init(checks: [String: String]) { self.checks = checks }
}

/// Everything the admin API needs from the rest of siprecd.
public struct AdminAPIServices: Sendable {
    public var catalog: any RecordingCatalog
    public var calls: (any LiveCallControl)?
    public var transcoder: (any AudioTranscoder)?
    /// Folders audio may be served from (archive and spool); a catalogued path outside them
    /// is refused.
    public var audioRoots: [URL]
    public var readiness: @Sendable () async -> ReadinessReport
    /// Prometheus text exposition of every metric.
    public var metrics: @Sendable () async -> String
    /// Reloads the configuration file; says what changed (nil: no file to reload).
    public var reload: (@Sendable () async throws -> ReloadOutcome)?
    /// The secret of `SIPRECD_API_TOKEN`: an admin token that needs no catalog.
    public var bootstrapToken: String?
    /// Takes recordings from peers (nil: replication endpoints answer 503).
    public var replication: (any ReplicationReceiver)?

    public init(catalog: any RecordingCatalog, calls: (any LiveCallControl)? = nil, transcoder: (any AudioTranscoder)? = nil,
                audioRoots: [URL], readiness: @escaping @Sendable () async -> ReadinessReport = { ReadinessReport(checks: [:]) },
                metrics: @escaping @Sendable () async -> String = { "" },
                reload: (@Sendable () async throws -> ReloadOutcome)? = nil, bootstrapToken: String? = nil) {
        self.catalog = catalog
        self.calls = calls
        self.transcoder = transcoder
        self.audioRoots = audioRoots
        self.readiness = readiness
        self.metrics = metrics
        self.reload = reload
        self.bootstrapToken = bootstrapToken
    }
}

/// What a configuration reload did: the settings now in effect, and the ones that differ in
/// the file but take effect only when the server is restarted (listeners, folders, database…).
public struct ReloadOutcome: Sendable, Equatable {
    public var applied: [String]
    public var restartRequired: [String]

    public init(applied: [String], restartRequired: [String]) {
        self.applied = applied
        self.restartRequired = restartRequired
    }
}
