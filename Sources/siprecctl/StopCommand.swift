import ArgumentParser

struct StopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a live recording: it ends and siprecd sends BYE."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Recording id of the live call.")
    var id: String

    func run() async throws {
        let client = try global.makeClient()
        let action = CallAction.stop
        if global.json {
            let response = try await client.sendExpectingSuccess(.post, action.path(recordingID: id))
            Console.out(JSONText.prettyOrRaw(response.body))
            return
        }
        let (result, _) = try await client.fetch(StopResult.self, action.path(recordingID: id), method: .post)
        Console.out(action.summary(recordingID: id, call: nil, stop: result))
    }
}
