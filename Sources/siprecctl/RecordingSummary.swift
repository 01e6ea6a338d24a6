/// One recording in `GET /api/v1/recordings` (and the top of `GET /api/v1/recordings/{id}`).
/// Every member optional: a field the server adds or leaves out never breaks the client.
struct RecordingSummary: Decodable, Sendable, Equatable {
    struct File: Decodable, Sendable, Equatable {
        var format: String?
        var bytes: Int?
        var sha256: String?
        var location: String?
        var audioSeconds: Double?
        var channels: Int?
    }

    var id: String?
    var interactionId: String?
    var segment: Int?
    var source: String?
    var state: String?
    var tenant: String?
    var startedAt: String?
    var endedAt: String?
    var durationSeconds: Double?
    var srcAddress: String?
    var callIds: [String]?
    var participants: [Participant]?
    var file: File?
}
