/// A call being recorded (`GET /api/v1/calls`, and the reply to pause/resume).
struct LiveCall: Decodable, Sendable, Equatable {
    struct Stream: Decodable, Sendable, Equatable {
        var id: String?
        var label: String?
        var codec: String?
        var srtp: Bool?
        var state: String?
        var packets: Int?
        var lost: Int?
        var late: Int?
        var jitterMs: Double?
        var srtpFailures: Int?
    }

    var recordingId: String?
    var source: String?
    var tenant: String?
    var startedAt: String?
    var paused: Bool?
    var callIds: [String]?
    var participants: [Participant]?
    var streams: [Stream]?
}
