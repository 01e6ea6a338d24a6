import ArgumentParser

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check whether siprecd is ready (GET /readyz, no token needed).",
        discussion: "Exit status 0 when ready, 1 when not ready or unreachable."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let client = try global.makeClient()
        // Unreachable throws a connection error: exit status 1, like "not ready".
        let response = try await client.send(.get, ["readyz"], authenticated: false)
        let ready = response.status == 200
        if global.json {
            Console.out(JSONText.prettyOrRaw(response.body))
        } else {
            let readiness = try? client.decode(Readiness.self, from: response.body, request: "GET /readyz")
            Console.out(ReadinessView.render(readiness, ready: ready, httpStatus: response.status))
        }
        if !ready { throw CLIError.silent(1) }
    }
}
