import Catalog
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SIPTestSupport
import Testing

/// siprecd with a real PostgreSQL catalog under load from siprec-loadgen: the database is
/// stopped while the calls are placed and started again after; every recording must end up
/// catalogued and served by the API.
@Suite("Catalog and admin API against the running server", .serialized)
struct CatalogIntegrationTests {
    static let token = "integration-admin-secret"

    struct HTTPResult {
        var status: Int
        var body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    static func get(_ port: Int, _ path: String, token: String? = CatalogIntegrationTests.token) async throws -> HTTPResult {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.timeoutInterval = 10
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return HTTPResult(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    static func post(_ port: Int, _ path: String, token: String? = CatalogIntegrationTests.token) async throws -> HTTPResult {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = "POST"
        request.timeoutInterval = 10
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return HTTPResult(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    /// Runs siprec-loadgen to the end and returns its JSON report.
    static func runLoadgen(_ server: ServerProcess, calls: Int, rate: Int, duration: Int, started: () throws -> Void) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-k", "5", "240", MediaIntegrationTests.loadgen, "--target", "127.0.0.1:\(server.port("udp"))", "--calls", "\(calls)", "--rate", "\(rate)", "--duration", "\(duration)",
                             "--verify", server.dataDirectory.path, "--verify-timeout", "30", "--json", "--quiet", "--mode", "siprec", "--streams", "2"]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        try started()
        let json = output.fileHandleForReading.readDataToEndOfFile()
        let summary = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "loadgen: \(summary)")
        return (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] ?? [:]
    }

    @Test("PostgreSQL stopped while calls are recorded: recording goes on, readiness says so, and after it returns every recording is catalogued and playable")
    func postgresOutageUnderLoad() async throws {
        guard FileManager.default.isExecutableFile(atPath: MediaIntegrationTests.loadgen) else {
            Issue.record("siprec-loadgen is not built at \(MediaIntegrationTests.loadgen): run `make test`")
            return
        }
        let url = try TestPostgres.freshDatabase()
        let server = try ServerProcess(yaml: MediaIntegrationTests.yaml, environment: ["SIPRECD_API_TOKEN": Self.token],
                                       extraArguments: ["--database", url])
        defer { server.stop() }
        let port = server.httpPort
        #expect(try await Self.get(port, "/readyz", token: nil).status == 200)

        let calls = 12
        var stopped = false
        let report = try Self.runLoadgen(server, calls: calls, rate: 4, duration: 3) {
            try TestPostgres.stop()
            stopped = true
        }
        #expect(stopped)
        #expect(report["recordingsVerified"] as? Int == calls, "\(report)")
        // The database is still down: the API says the catalog is unreachable, calls were recorded.
        let ready = try await Self.get(port, "/readyz", token: nil)
        #expect(ready.status == 503)
        #expect((ready.json["checks"] as? [String: String])?["catalog"] == "unreachable")
        #expect(try await Self.get(port, "/api/v1/recordings").status == 503)

        try TestPostgres.restart()
        // The ingestor retries on its own; wait (bounded) for the catalog to hold every call.
        var items: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(40)
        while Date() < deadline {
            if let page = try? await Self.get(port, "/api/v1/recordings?limit=100"), page.status == 200 {
                items = page.json["items"] as? [[String: Any]] ?? []
                if items.count == calls, items.allSatisfy({ $0["file"] is [String: Any] }) { break }
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(items.count == calls, "catalogued \(items.count) of \(calls)\n\(server.log.suffix(2000))")
        #expect(items.allSatisfy { $0["state"] as? String == "completed" })
        #expect(try await Self.get(port, "/readyz", token: nil).status == 200)

        // One recording downloaded through the API is the archived file: same SHA-256.
        let first = try #require(items.first)
        let id = try #require(first["id"] as? String)
        let file = try #require(first["file"] as? [String: Any])
        let audio = try await Self.get(port, "/api/v1/recordings/\(id)/audio")
        #expect(audio.status == 200)
        #expect(SHA256.hex([UInt8](audio.body)) == file["sha256"] as? String)
        let detail = try await Self.get(port, "/api/v1/recordings/\(id)")
        let record = try #require(detail.json["record"] as? [String: Any])
        #expect((record["streams"] as? [[String: Any]])?.count == 2)
        let audit = try await Self.get(port, "/api/v1/admin/audit")
        #expect((audit.json["items"] as? [[String: Any]])?.first?["recordingId"] as? String == id)
        let metrics = String(decoding: try await Self.get(port, "/metrics", token: nil).body, as: UTF8.self)
        #expect(metrics.contains("siprecd_catalog_journal_backlog_bytes 0"))
    }
}
