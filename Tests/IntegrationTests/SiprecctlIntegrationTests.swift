import Catalog
import Foundation
import SIPTestSupport
import Testing

/// The built siprecctl against a running siprecd: live calls, pause/resume/stop, list, show,
/// download (as stored and converted), metadata, tokens and health, with the exit statuses the
/// CLI documents.
@Suite("siprecctl against the running server", .serialized)
struct SiprecctlIntegrationTests {
    static let token = "siprecctl-admin-secret"

    static var binary: String { (ServerProcess.binary as NSString).deletingLastPathComponent + "/siprecctl" }

    struct Run {
        var status: Int32
        var output: String
        var errors: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: Any] ?? [:] }
    }

    /// Runs siprecctl (bounded by `timeout`) with the server's URL and a token in the environment.
    static func ctl(_ server: ServerProcess, _ arguments: [String], token: String? = SiprecctlIntegrationTests.token) throws -> Run {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siprecctl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out")
        let err = folder.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-k", "5", "60", binary] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SIPRECD_URL"] = "http://127.0.0.1:\(server.httpPort)"
        environment["SIPRECD_TOKEN"] = token
        if token == nil { environment.removeValue(forKey: "SIPRECD_TOKEN") }
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                   errors: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    @Test("live calls, pause, resume and stop; then list, show, download (stored and FLAC), metadata, tokens and health; exit 2 for a bad token and 3 for an unknown id")
    func wholeCLI() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary), FileManager.default.isExecutableFile(atPath: MediaIntegrationTests.loadgen) else {
            Issue.record("siprecctl or siprec-loadgen is not built next to \(ServerProcess.binary): run `make test`")
            return
        }
        let server = try ServerProcess(yaml: MediaIntegrationTests.yaml, environment: ["SIPRECD_API_TOKEN": Self.token])
        defer { server.stop() }
        let calls = 2
        let loadgen = try DrainIntegrationTests.LoadgenRun(target: "127.0.0.1:\(server.port("udp"))", calls: calls, rate: 4, duration: 6,
                                                            verify: [])
        defer { if loadgen.process.isRunning { loadgen.process.terminate() } }
        try await DrainIntegrationTests.waitUntil(timeout: 20, "both calls to be live") {
            await HighAvailabilityIntegrationTests.liveCalls(server.httpPort, token: Self.token) == calls
        }

        // Live calls, as JSON and as a table.
        let live = try Self.ctl(server, ["calls", "--json"])
        #expect(live.status == 0, "\(live.errors)")
        let items = live.json["items"] as? [[String: Any]] ?? []
        #expect(items.count == calls, "\(live.output)")
        let ids = items.compactMap { $0["recordingId"] as? String }
        try #require(ids.count == calls)
        let table = try Self.ctl(server, ["calls"])
        #expect(table.status == 0 && ids.allSatisfy { table.output.contains($0.prefix(8)) }, "\(table.output)")

        // Pause and resume one call; stop the other.
        let paused = try Self.ctl(server, ["pause", ids[0], "--json"])
        #expect(paused.status == 0, "\(paused.errors)")
        #expect(paused.json["paused"] as? Bool == true, "\(paused.output)")
        let resumed = try Self.ctl(server, ["resume", ids[0], "--json"])
        #expect(resumed.json["paused"] as? Bool == false, "\(resumed.output)")
        let stopped = try Self.ctl(server, ["stop", ids[1]])
        #expect(stopped.status == 0, "\(stopped.errors)")
        let run = try await loadgen.finish(timeout: 60)
        _ = run

        // Every recording in the catalog: list, show, download, metadata.
        var listed: [[String: Any]] = []
        try await DrainIntegrationTests.waitUntil(timeout: 30, "both recordings completed in the catalog") {
            let list = try Self.ctl(server, ["list", "--json"])
            listed = list.json["items"] as? [[String: Any]] ?? []
            return listed.count == calls && listed.allSatisfy { $0["state"] as? String == "completed" }
        }
        #expect(Set(listed.compactMap { $0["id"] as? String ?? $0["recordingId"] as? String }) == Set(ids), "\(listed)")
        let listTable = try Self.ctl(server, ["list"])
        #expect(listTable.status == 0 && ids.allSatisfy { listTable.output.contains($0.prefix(8)) }, "\(listTable.output)")

        let show = try Self.ctl(server, ["show", ids[0], "--json"])
        #expect(show.status == 0, "\(show.errors)")
        let file = (show.json["files"] as? [[String: Any]])?.first ?? (show.json["file"] as? [String: Any]) ?? [:]
        let sha256 = try #require(file["sha256"] as? String, "\(show.output)")
        let showTable = try Self.ctl(server, ["show", ids[0]])
        #expect(showTable.status == 0 && showTable.output.contains(ids[0]), "\(showTable.output)")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("siprecctl-dl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let wav = folder.appendingPathComponent("call.wav")
        let download = try Self.ctl(server, ["download", ids[0], "-o", wav.path])
        #expect(download.status == 0, "\(download.errors)")
        #expect(try SHA256.hex([UInt8](Data(contentsOf: wav))) == sha256, "the downloaded file is the archived one")
        let flac = folder.appendingPathComponent("call.flac")
        let converted = try Self.ctl(server, ["download", ids[0], "--format", "flac", "-o", flac.path])
        #expect(converted.status == 0, "\(converted.errors)")
        #expect(try Data(contentsOf: flac).prefix(4) == Data("fLaC".utf8))

        let metadata = try Self.ctl(server, ["metadata", ids[0]])
        #expect(metadata.status == 0 && metadata.output.contains("recording"), "\(metadata.output) \(metadata.errors)")

        // Tokens and health.
        let created = try Self.ctl(server, ["tokens", "create", "--name", "auditor-1", "--role", "auditor", "--json"])
        #expect(created.status == 0, "\(created.errors)")
        let tokens = try Self.ctl(server, ["tokens", "list", "--json"])
        #expect((tokens.json["items"] as? [[String: Any]] ?? []).contains { $0["name"] as? String == "auditor-1" }, "\(tokens.output)")
        let health = try Self.ctl(server, ["health"])
        #expect(health.status == 0, "\(health.output) \(health.errors)")

        // Documented exit statuses.
        #expect(try Self.ctl(server, ["list"], token: "not-a-token").status == 2)
        #expect(try Self.ctl(server, ["show", "no-such-recording"]).status == 3)
    }
}
