import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import SIPCore
import Testing

/// Configuration reload on a running server: the admin API's POST /api/v1/admin/reload and
/// SIGHUP apply the live settings without touching calls in progress, report the settings that
/// need a restart, keep command-line flags winning, and leave everything as it was when the
/// new file is invalid.
@Suite("Configuration reload", .serialized)
struct ReloadIntegrationTests {
    static let token = "reload-admin-secret"

    static func optionsStatus(_ client: SIPTestClient) async throws -> Int? {
        try await client.send(SIPText.options(port: client.localPort))
        return await client.nextResponse()?.statusCode
    }

    @Test("live calls show their streams' counters so far; reload under load: a lower call limit applies at once (OPTIONS 503) while every call in progress records to its end; restart-only keys are reported, flags still win; SIGHUP narrows the trusted networks; an invalid file changes nothing")
    func reloadWithoutDroppingCalls() async throws {
        guard FileManager.default.isExecutableFile(atPath: MediaIntegrationTests.loadgen) else {
            Issue.record("siprec-loadgen is not built at \(MediaIntegrationTests.loadgen): run `make test`")
            return
        }
        let initial = """
            media:
              rtp-ports: 43000-43999
            sip:
              trusted-networks: [127.0.0.0/8]
              max-concurrent-calls: 1000

            """
        let server = try ServerProcess(yaml: initial, environment: ["SIPRECD_API_TOKEN": Self.token])
        defer { server.stop() }
        let file = server.directory.appendingPathComponent("siprecd.yaml")
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        defer { Task { await client.close() } }
        #expect(try await Self.optionsStatus(client) == 200)

        // Three calls in progress.
        let calls = 3
        let loadgen = try DrainIntegrationTests.LoadgenRun(target: "127.0.0.1:\(server.port("udp"))", calls: calls, rate: 3, duration: 6,
                                                            verify: [server.dataDirectory])
        defer { if loadgen.process.isRunning { loadgen.process.terminate() } }
        try await DrainIntegrationTests.waitUntil(timeout: 20, "every call to be live") {
            await HighAvailabilityIntegrationTests.liveCalls(server.httpPort, token: Self.token) == calls
        }
        // GET /api/v1/calls shows each stream's counters so far, asked of the media thread.
        var streams: [[String: Any]] = []
        try await DrainIntegrationTests.waitUntil(timeout: 10, "live packet counters on every stream") {
            let page = try await CatalogIntegrationTests.get(server.httpPort, "/api/v1/calls", token: Self.token)
            streams = (page.json["items"] as? [[String: Any]] ?? []).flatMap { $0["streams"] as? [[String: Any]] ?? [] }
            return streams.count == calls * 2 && streams.allSatisfy { ($0["packets"] as? Int ?? 0) >= 50 }
        }
        #expect(streams.allSatisfy { $0["lost"] as? Int == 0 && $0["srtpFailures"] as? Int == 0 && ($0["jitterMs"] as? Double) != nil }, "\(streams)")

        // The limit drops to the calls in progress: the node is full from now on. The media
        // ports differ too (a restart applies them), and the file's log level loses to the
        // --log-level flag the server was started with.
        try """
            media:
              rtp-ports: 44000-44999
            sip:
              trusted-networks: [127.0.0.0/8]
              max-concurrent-calls: \(calls)
            log:
              level: debug

            """.write(to: file, atomically: true, encoding: .utf8)
        #expect(try await CatalogIntegrationTests.post(server.httpPort, "/api/v1/admin/reload", token: nil).status == 401)
        let reloaded = try await CatalogIntegrationTests.post(server.httpPort, "/api/v1/admin/reload", token: Self.token)
        #expect(reloaded.status == 200, "\(String(decoding: reloaded.body, as: UTF8.self))")
        #expect(reloaded.json["applied"] as? [String] == ["sip.max-concurrent-calls"], "\(reloaded.json)")
        #expect(reloaded.json["restartRequired"] as? [String] == ["media.rtp-ports"], "\(reloaded.json)")
        let full = try #require(await { () async throws -> SIPResponse? in
            try await client.send(SIPText.options(port: client.localPort))
            return await client.nextResponse()
        }())
        #expect(full.statusCode == 503)
        #expect(full.headers.firstValue(.retryAfter) != nil)

        // No call was dropped: each records to its natural end and is verified.
        let run = try await loadgen.finish(timeout: 90)
        #expect(run.status == 0, "\(run.summary)")
        #expect(run.report["recordingsVerified"] as? Int == calls, "\(run.summary)")
        // Below the limit again once they ended.
        try await DrainIntegrationTests.waitUntil(timeout: 10, "OPTIONS 200 once the calls ended") {
            try await Self.optionsStatus(client) == 200
        }
        let records = try server.stopAndReadRecords()
        #expect(records.count == calls)
        for record in records {
            let dialogs = record["dialogs"] as? [[String: Any]] ?? []
            #expect(!dialogs.isEmpty && dialogs.allSatisfy { $0["endReason"] as? String == "remoteBye" }, "\(dialogs)")
        }
    }

    @Test("SIGHUP reloads: narrowing the trusted networks refuses OPTIONS with 403 from then on; an invalid file is refused with the key named and changes nothing; the reload is audited")
    func sighupAndInvalidFile() async throws {
        let server = try ServerProcess(yaml: "media:\n  rtp-ports: 43000-43999\nsip:\n  trusted-networks: [127.0.0.0/8]\n",
                                       environment: ["SIPRECD_API_TOKEN": Self.token])
        defer { server.stop() }
        let file = server.directory.appendingPathComponent("siprecd.yaml")
        let client = try await SIPTestClient.udp(port: server.port("udp"))
        defer { Task { await client.close() } }
        #expect(try await Self.optionsStatus(client) == 200)

        // An invalid file: 400 naming the key; the running configuration stays.
        try "media:\n  rtp-ports: 43000-43999\nsip:\n  trusted-networks: [192.0.2.0/24]\n  max-concurrent-calls: 0\n"
            .write(to: file, atomically: true, encoding: .utf8)
        let refused = try await CatalogIntegrationTests.post(server.httpPort, "/api/v1/admin/reload", token: Self.token)
        #expect(refused.status == 400)
        #expect(String(decoding: refused.body, as: UTF8.self).contains("sip.max-concurrent-calls"), "\(refused.json)")
        #expect(try await Self.optionsStatus(client) == 200)

        // SIGHUP with a valid file that no longer trusts loopback: 403 from then on.
        try "media:\n  rtp-ports: 43000-43999\nsip:\n  trusted-networks: [192.0.2.0/24]\n".write(to: file, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        try await DrainIntegrationTests.waitUntil(timeout: 10, "the reloaded trusted networks to refuse loopback") {
            try await Self.optionsStatus(client) == 403
        }
        #expect(server.isRunning)
        // The log line follows the change (written after it applied, read from a pipe).
        try await DrainIntegrationTests.waitUntil(timeout: 10, "the reload's log line") { server.log.contains("configuration reloaded") }

        // The API's reload is audited (the SIGHUP has no token to audit).
        try "media:\n  rtp-ports: 43000-43999\nsip:\n  trusted-networks: [127.0.0.0/8]\n".write(to: file, atomically: true, encoding: .utf8)
        let reloaded = try await CatalogIntegrationTests.post(server.httpPort, "/api/v1/admin/reload", token: Self.token)
        #expect(reloaded.json["applied"] as? [String] == ["sip.trusted-networks"], "\(reloaded.json)")
        #expect(try await Self.optionsStatus(client) == 200)
        let audit = try await CatalogIntegrationTests.get(server.httpPort, "/api/v1/admin/audit", token: Self.token)
        let actions = (audit.json["items"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
        #expect(actions.contains("config-reload"), "\(audit.json)")
    }
}
