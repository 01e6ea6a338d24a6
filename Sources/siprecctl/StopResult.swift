/// The 202 reply to `POST /api/v1/calls/{id}/stop`.
struct StopResult: Decodable, Sendable, Equatable {
    var recordingId: String?
    var state: String?
}
