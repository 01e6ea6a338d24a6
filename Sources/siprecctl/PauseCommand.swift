import ArgumentParser

struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Pause a live recording (silence is written and the interval noted in the record)."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Recording id of the live call.")
    var id: String

    func run() async throws {
        let client = try global.makeClient()
        let action = CallAction.pause
        if global.json {
            let response = try await client.sendExpectingSuccess(.post, action.path(recordingID: id))
            Console.out(JSONText.prettyOrRaw(response.body))
            return
        }
        let (call, _) = try await client.fetch(LiveCall.self, action.path(recordingID: id), method: .post)
        Console.out(action.summary(recordingID: id, call: call, stop: nil))
    }
}
