import Catalog
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import Testing
import Webhooks

func entry(_ id: String, state: String, file: String? = nil) throws -> CatalogEntry {
    let fileJSON = file.map { #"{"format":"wav-pcm16","sampleRate":8000,"channels":2,"channelRoles":["caller","callee"],"location":"\#($0)","path":"archive/\#(id).wav","bytes":100,"sha256":"ab","audioSeconds":1}"# } ?? "null"
    let line = #"{"recordingID":"\#(id)","state":"\#(state)","startedAt":"2026-11-30T10:00:00.000Z","dialogs":[{"callID":"c-\#(id)@example.com","source":"192.0.2.1:5060"}],"participants":[{"aor":"sip:+15551230001@example.com","role":"caller"}],"file":\#(fileJSON)}"#
    return try CatalogEntry(journalLine: Array(line.utf8))
}

@Suite("Webhooks")
struct WebhooksTests {
    @Test("HMAC-SHA256 matches RFC 4231 test case 2")
    func hmac() {
        #expect(HMACSHA256.hex(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // A key longer than the block is hashed first (RFC 4231 test case 6).
        #expect(HMACSHA256.hex(key: [UInt8](repeating: 0xAA, count: 131),
                               message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("each event is derived once per recording, whatever the order of states")
    func derive() throws {
        var deriver = WebhookEventDeriver()
        #expect(deriver.events(for: try entry("a", state: "active")) == [.callStarted])
        #expect(deriver.events(for: try entry("a", state: "active")) == [])
        #expect(deriver.events(for: try entry("a", state: "completed")) == [.callEnded])
        #expect(deriver.events(for: try entry("a", state: "completed", file: "spool")) == [])
        #expect(deriver.events(for: try entry("a", state: "completed", file: "archive")) == [.recordingAvailable])
        #expect(deriver.emitted["a"] == nil)
        #expect(deriver.events(for: try entry("b", state: "recovered", file: "archive")) == [.callStarted, .callEnded, .recordingAvailable])
    }

    @Test("the outbox signs and delivers each event, retries a refused one, and keeps its positions across restarts")
    func delivery() async throws {
        struct Received: Sendable { var headers: [String: String]; var body: Data }
        let received = NIOLockedValueBox<[Received]>([])
        let refusals = NIOLockedValueBox(1)
        let router = Router()
        router.post("/hook") { request, context -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            // The first delivery is refused (a receiver restarting): it must come again.
            if refusals.withLockedValue({ count in defer { count -= 1 }; return count > 0 }) { return .serviceUnavailable }
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            received.withLockedValue { $0.append(Received(headers: headers, body: Data(buffer: body))) }
            return .ok
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("webhooks-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            var logger = Logger(label: "webhooks-test")
            logger.logLevel = .critical
            let settings = WebhookSettings(
                endpoints: [WebhookEndpoint(url: URL(string: "http://127.0.0.1:\(client.port!)/hook")!, secret: "s3cret")],
                retryDelays: [0.05])
            let outbox = try WebhookOutbox(folder: folder, settings: settings, logger: logger)
            try await outbox.apply([try entry("r1", state: "active")], positions: [JournalPosition(path: "n/j", offset: 10)])
            try await outbox.apply([try entry("r1", state: "completed", file: "archive")], positions: [JournalPosition(path: "n/j", offset: 20)])
            #expect(outbox.pendingCount == 3)
            let deadline = Date().addingTimeInterval(10)
            while outbox.pendingCount > 0, Date() < deadline {
                if let due = await outbox.deliverDue(), due > Date() {
                    try await Task.sleep(for: .milliseconds(Int(max(1, due.timeIntervalSinceNow * 1000))))
                }
            }
            #expect(outbox.pendingCount == 0)
            let deliveries = received.withLockedValue { $0 }
            #expect(deliveries.count == 3)
            #expect(Set(deliveries.compactMap { $0.headers["x-siprecd-event"] }) == ["call.started", "call.ended", "recording.available"])
            for delivery in deliveries {
                let timestamp = try #require(delivery.headers["x-siprecd-timestamp"])
                let expected = "sha256=" + HMACSHA256.hex(key: Array("s3cret".utf8), message: Array("\(timestamp).".utf8) + [UInt8](delivery.body))
                #expect(delivery.headers["x-siprecd-signature"] == expected)
                let body = try #require(try JSONSerialization.jsonObject(with: delivery.body) as? [String: Any])
                #expect(body["deliveryId"] as? String == "r1:\(body["event"] as? String ?? "")")
                #expect(delivery.headers["x-siprecd-delivery"] == body["deliveryId"] as? String)
            }
            // A new outbox on the same folder (a restart) starts where the last one ended.
            let restarted = try WebhookOutbox(folder: folder, settings: settings, logger: logger)
            #expect(try await restarted.journalPositions() == ["n/j": 20])
            try await restarted.apply([try entry("r1", state: "completed", file: "archive")], positions: [JournalPosition(path: "n/j", offset: 30)])
            #expect(restarted.pendingCount == 0)
        }
    }
}
