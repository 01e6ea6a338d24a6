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
        try await CallAction.pause.send(recordingID: id, global: global)
    }
}
