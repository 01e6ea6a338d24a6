import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import SIPCore
import SIPTestSupport
import Testing

/// SIGTERM under load: the node drains. Calls in progress keep recording to their natural end,
/// new INVITEs and OPTIONS get 503 with Retry-After (so the SBC records elsewhere), readiness
/// says draining, and the process exits 0 once the last call ended. A second SIGTERM ends the
/// calls at once with a BYE and finished files.
@Suite("Graceful drain", .serialized)
struct DrainIntegrationTests {
    static let token = "drain-admin-secret"

    /// A loadgen run in the background; its JSON report and summary go to files.
    struct LoadgenRun {
        let process = Process()
        let output: URL
        let errors: URL

        init(target: String, calls: Int, rate: Int, duration: Int, verify: [URL], extra: [String] = []) throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("loadgen-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            output = folder.appendingPathComponent("report.json")
            errors = folder.appendingPathComponent("summary.txt")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: MediaIntegrationTests.loadgen)
            process.arguments = ["--target", target, "--calls", "\(calls)", "--rate", "\(rate)", "--duration", "\(duration)",
                                 "--verify-timeout", "30", "--json", "--quiet", "--mode", "siprec", "--streams", "2"]
                + verify.flatMap { ["--verify", $0.path] } + extra
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = try FileHandle(forWritingTo: errors)
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }

        /// Waits (bounded) for the run to end; returns its exit status, report and summary.
        func finish(timeout: Double = 90) async throws -> (status: Int32, report: [String: Any], summary: String) {
            try await DrainIntegrationTests.waitUntil(timeout: timeout, "loadgen to finish") { !process.isRunning }
            let report = (try? JSONSerialization.jsonObject(with: Data(contentsOf: output))) as? [String: Any] ?? [:]
            let summary = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: output.deletingLastPathComponent())
            return (process.terminationStatus, report, summary)
        }
    }

    /// Polls `condition` every 100 ms until it holds or `timeout` seconds pass (then throws).
    static func waitUntil(timeout: Double, _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        struct TimedOut: Error, CustomStringConvertible { var description: String }
        throw TimedOut(description: "timed out waiting for \(what)")
    }

    static func liveCalls(_ server: ServerProcess) async -> Int {
        guard let page = try? await CatalogIntegrationTests.get(server.httpPort, "/api/v1/calls", token: token), page.status == 200 else { return -1 }
        return (page.json["items"] as? [[String: Any]])?.count ?? -1
    }

    static func exitStatus(_ server: ServerProcess, timeout: Double) async throws -> Int32 {
        try await waitUntil(timeout: timeout, "siprecd to exit") { !server.isRunning }
        return server.process.terminationStatus
    }

    @Test("SIGTERM under load: calls in progress finish, new INVITEs and OPTIONS get 503 with Retry-After, readiness says draining, exit 0")
    func drainUnderLoad() async throws {
        guard FileManager.default.isExecutableFile(atPath: MediaIntegrationTests.loadgen) else {
            Issue.record("siprec-loadgen is not built at \(MediaIntegrationTests.loadgen): run `make test`")
            return
        }
        let server = try ServerProcess(yaml: MediaIntegrationTests.yaml, environment: ["SIPRECD_API_TOKEN": Self.token])
        defer { server.stop() }
        let calls = 6
        let loadgen = try LoadgenRun(target: "127.0.0.1:\(server.port("udp"))", calls: calls, rate: 6, duration: 5, verify: [server.dataDirectory])
        try await Self.waitUntil(timeout: 20, "every call to be live") { await Self.liveCalls(server) == calls }

        // Healthy before: OPTIONS 200.
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        defer { Task { await client.close() } }
        try await client.send(SIPText.options(port: client.localPort))
        #expect(await client.nextResponse()?.statusCode == 200)

        kill(server.process.processIdentifier, SIGTERM)
        try await Self.waitUntil(timeout: 10, "readiness to say draining") {
            let ready = try await CatalogIntegrationTests.get(server.httpPort, "/readyz", token: nil)
            return ready.status == 503 && (ready.json["checks"] as? [String: String])?["calls"] == "recorder draining"
        }
        // The SBC's keepalive and a new call both get 503 with Retry-After: it fails over.
        try await client.send(SIPText.options(port: client.localPort))
        let options = try #require(await client.nextResponse())
        #expect(options.statusCode == 503)
        #expect(options.headers.firstValue(.retryAfter).flatMap { Int($0) } ?? 0 > 0)
        let (_, invite) = try await SIPServerIntegrationTests.sendFixture("messages/valid/siprec-invite.sip", with: client)
        let refused = try #require(invite)
        #expect(refused.statusCode == 503)
        #expect(refused.headers.firstValue(.retryAfter) != nil)
        #expect(refused.headers.firstValue(.warning)?.contains("draining") == true)
        // The calls in progress are still being recorded.
        #expect(await Self.liveCalls(server) == calls)

        let run = try await loadgen.finish()
        #expect(run.status == 0, "\(run.summary)")
        #expect(run.report["recordingsVerified"] as? Int == calls, "\(run.report)")
        // Once the last call ended the process finished its files and records and exited 0.
        #expect(try await Self.exitStatus(server, timeout: 30) == 0, "\(server.log.suffix(3000))")
        let records = try server.stopAndReadRecords()
        #expect(records.count == calls)
        for record in records {
            #expect(record["state"] as? String == "completed")
            let dialogs = record["dialogs"] as? [[String: Any]] ?? []
            #expect(dialogs.allSatisfy { $0["endReason"] as? String == "remoteBye" }, "\(dialogs)")
        }
        #expect(server.log.contains("drain finished"))
    }

    @Test("A second SIGTERM ends the calls still recording at once: BYE, files finished, exit 0")
    func secondSignalEndsCalls() async throws {
        guard FileManager.default.isExecutableFile(atPath: MediaIntegrationTests.loadgen) else {
            Issue.record("siprec-loadgen is not built at \(MediaIntegrationTests.loadgen): run `make test`")
            return
        }
        let server = try ServerProcess(yaml: MediaIntegrationTests.yaml, environment: ["SIPRECD_API_TOKEN": Self.token])
        defer { server.stop() }
        let calls = 3
        let loadgen = try LoadgenRun(target: "127.0.0.1:\(server.port("udp"))", calls: calls, rate: 10, duration: 60, verify: [])
        defer { if loadgen.process.isRunning { loadgen.process.terminate() } }
        try await Self.waitUntil(timeout: 20, "every call to be live") { await Self.liveCalls(server) == calls }

        kill(server.process.processIdentifier, SIGTERM)
        try await Self.waitUntil(timeout: 10, "the drain to start") { server.log.contains("draining") }
        #expect(server.isRunning)
        kill(server.process.processIdentifier, SIGTERM)
        // Well before the 60 s calls would end: the recorder ended them.
        #expect(try await Self.exitStatus(server, timeout: 20) == 0, "\(server.log.suffix(3000))")
        let records = try server.stopAndReadRecords(removeData: false)
        #expect(records.count == calls)
        for record in records {
            #expect(record["state"] as? String == "completed")
            let dialogs = record["dialogs"] as? [[String: Any]] ?? []
            #expect(dialogs.allSatisfy { $0["endReason"] as? String == "second termination signal" }, "\(dialogs)")
            let file = record["file"] as? [String: Any]
            #expect(file?["sha256"] as? String != nil, "\(record)")
        }
        // The load generator got the BYEs: its calls end now, not after 60 s.
        let run = try await loadgen.finish(timeout: 30)
        #expect(run.summary.isEmpty == false)
        try? FileManager.default.removeItem(at: server.directory)
    }
}
