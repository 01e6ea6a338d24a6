import ArgumentParser
import Foundation

struct CallsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calls",
        abstract: "List the calls being recorded now.",
        discussion: "With --watch the table is redrawn every SECONDS until interrupted (Ctrl-C)."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Redraw every SECONDS (0.5 or more).", valueName: "seconds"))
    var watch: Double?

    func validate() throws {
        if let watch, !(watch >= 0.5 && watch.isFinite) { throw ValidationError("--watch must be 0.5 seconds or more") }
    }

    func run() async throws {
        let client = try global.makeClient()
        guard let interval = watch else {
            Console.out(try await frame(client))
            return
        }
        let redraw = Console.standardOutputIsTerminal && !global.json
        var connectedOnce = false
        while true {
            var text: String
            do {
                text = try await frame(client)
                connectedOnce = true
            } catch let error as CLIError {
                // The server going away for a moment (a restart) is worth watching through;
                // a refused token, a bad answer or a server never reached (wrong --url) is not.
                guard case .connection = error, connectedOnce else { throw error }
                text = "siprecctl: " + (error.message ?? "no connection")
            }
            if redraw {
                let heading = "Every \(Self.seconds(interval)): siprecctl calls    \(UTCTimestamp.display(Date())) UTC"
                // Home the cursor and clear the screen, then draw the whole frame in one write.
                Console.out("\u{1B}[H\u{1B}[2J" + heading + "\n\n" + text)
            } else {
                if !global.json { text = "# \(UTCTimestamp.display(Date())) UTC\n" + text + "\n" }
                Console.out(text)
            }
            Console.flush()
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }

    private func frame(_ client: APIClient) async throws -> String {
        let path = ["api", "v1", "calls"]
        if global.json { return JSONText.prettyOrRaw(try await client.sendExpectingSuccess(.get, path).body) }
        let (page, _) = try await client.fetch(ItemPage<LiveCall>.self, path)
        return LiveCallsView.render(page.items, now: Date())
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value))s" : ByteCountText.fixed(value, digits: 1) + "s"
    }
}
