import ArgumentParser

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume a paused live recording."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Recording id of the live call.")
    var id: String

    func run() async throws {
        try await CallAction.resume.send(recordingID: id, global: global)
    }
}
