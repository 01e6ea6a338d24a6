import Media

/// What to run: how many calls, how fast, how long, of which kind.
struct CallPlan: Sendable {
    enum Mode: String, Sendable {
        /// One SIPREC INVITE per call (Require: siprec, SDP + RFC 7865 metadata).
        case siprec
        /// Cisco UCM Built-in-Bridge: two plain INVITEs per call, near end and far end.
        case bib
    }

    /// Where calls go, in failover order: a call goes to the first target that is up and moves
    /// on to the next on 503, a transport error or `failoverTimeout` without a response.
    var targets: [Endpoint]
    /// Seconds without any response to an INVITE before the call moves to the next target
    /// (0: only RFC 3261 timer B, 32 s).
    var failoverTimeout: Double = 2
    /// Seconds between OPTIONS pings to each target (0: no pings, every target counts as up).
    var optionsInterval: Double = 0
    var localIP: String
    var calls: Int
    var rate: Double
    var duration: Double
    /// Streams per call; always 2 in bib mode (one per leg).
    var streams: Int
    var mode: Mode
    /// SDES-SRTP suite of every offered stream (`RTP/SAVP` with a fresh key each); nil: plain RTP.
    var srtp: SRTPSuite?
    var progress: Bool
}

/// How one call went, for the report and the verification of its recording.
struct CallOutcome: Sendable {
    struct Stream: Sendable {
        /// 1-based; selects the tone (see `StreamAudio.frequencies`). In bib mode 1 is the near end.
        var label: Int
        var accepted: Bool
    }

    var index: Int
    var callIDs: [String]
    var mode: CallPlan.Mode
    /// Monotonic seconds: the (first) 200 OK, the first RTP packet, the first BYE sent.
    var answerTime: Double?
    var firstRTPTime: Double?
    var byeTime: Double?
    var streams: [Stream]
    var setupFailure: String?
    var callFailure: String?
    /// The target that answered the call (every leg), nil when none did.
    var target: Endpoint?
    /// Times the call moved to the next target before it was answered or gave up.
    var failovers = 0

    /// The call's recorded length as the recorder should see it: 200 OK to BYE.
    var duration: Double? {
        guard let answerTime, let byeTime else { return nil }
        return byeTime - answerTime
    }
}

struct EngineResults: Sendable {
    var outcomes: [CallOutcome]
    var callsPlaced: Int
    var setupFailures: [String: Int]
    var callFailures: [String: Int]
    var streamsRefused: Int
    var elapsed: Double
    var targets: [TargetStats]
    /// Moves of a call to the next target.
    var failovers: Int
    /// Calls that moved at least once.
    var callsFailedOver: Int
    /// 2xx answers to INVITEs a call had moved away from, hung up at once.
    var strayAnswersEnded: Int
}

/// What happened at one target.
struct TargetStats: Sendable {
    var target: Endpoint
    /// INVITE transactions started towards it.
    var attempts = 0
    /// Calls it answered (every leg).
    var callsAnswered = 0
    /// Calls that moved from it to the next target.
    var failoversFrom = 0
    /// Times OPTIONS pings marked it down.
    var markedDown = 0
    /// Its state when the run ended.
    var up = true
}
