import Media

/// What to run: how many calls, how fast, how long, of which kind.
struct CallPlan: Sendable {
    enum Mode: String, Sendable {
        /// One SIPREC INVITE per call (Require: siprec, SDP + RFC 7865 metadata).
        case siprec
        /// Cisco UCM Built-in-Bridge: two plain INVITEs per call, near end and far end.
        case bib
    }

    var target: Endpoint
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
}
