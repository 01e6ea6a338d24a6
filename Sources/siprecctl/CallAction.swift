/// What `pause`, `resume` and `stop` send (`POST /api/v1/calls/{id}/<action>`) and how they
/// report the answer.
enum CallAction: String, Sendable {
    case pause, resume, stop

    func path(recordingID: String) -> [String] {
        ["api", "v1", "calls", recordingID, rawValue]
    }

    /// One line for people: `0193…: paused (recording stays open, silence is written)`.
    func summary(recordingID: String, call: LiveCall?, stop: StopResult?) -> String {
        switch self {
        case .pause:
            return "\(call?.recordingId ?? recordingID): paused (silence is recorded until resume)"
        case .resume:
            let state = call?.paused == true ? "still paused" : "recording"
            return "\(call?.recordingId ?? recordingID): \(state)"
        case .stop:
            return "\(stop?.recordingId ?? recordingID): \(stop?.state ?? "stopping") (the call gets a BYE)"
        }
    }
}

extension CallAction {
    /// Pause or resume: POSTs the action and prints the live call it answers with.
    func send(recordingID id: String, global: GlobalOptions) async throws {
        let client = try global.makeClient()
        if global.json {
            let response = try await client.sendExpectingSuccess(.post, path(recordingID: id))
            Console.out(JSONText.prettyOrRaw(response.body))
            return
        }
        let (call, _) = try await client.fetch(LiveCall.self, path(recordingID: id), method: .post)
        Console.out(summary(recordingID: id, call: call, stop: nil))
    }
}
