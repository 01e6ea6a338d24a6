@testable import AdminAPI
import Catalog
import CatalogSQLite
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import Yams

/// An admin API over a fresh SQLite catalog holding two recordings of two tenants, with an
/// archive folder holding the first one's audio.
struct APIFixture {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("api-\(UUID().uuidString)")
    var archive: URL { folder.appendingPathComponent("archive") }
    let catalog: SQLiteCatalog
    let admin = "bootstrap-secret"
    var audioBytes: [UInt8] = []

    init(calls: (any LiveCallControl)? = nil) async throws {
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("archive"), withIntermediateDirectories: true)
        catalog = try SQLiteCatalog(path: folder.appendingPathComponent("catalog.sqlite").path)
        // A 1 s stereo WAV: a ramp on the left channel, silence on the right.
        var samples: [Int16] = []
        for index in 0..<8000 { samples += [Int16(index % 200 * 100 - 10_000), 0] }
        audioBytes = Self.wav(samples, channels: 2)
        let audioPath = archive.appendingPathComponent("rec-a.wav")
        try Data(audioBytes).write(to: audioPath)
        let base = Date(timeIntervalSince1970: 1_790_000_000)
        func line(_ id: String, _ tenant: String, _ start: Date, file: String?) -> String {
            let fileJSON = file.map { #"{"format":"wav-pcm16","sampleRate":8000,"channels":2,"channelRoles":["caller","callee"],"location":"archive","path":"\#($0)","bytes":32044,"sha256":"x","audioSeconds":1}"# } ?? "null"
            return #"{"recordingID":"\#(id)","interactionID":"\#(id)","segment":1,"source":"siprec","state":"completed","tenant":"\#(tenant)","startedAt":"\#(CatalogDate.format(start))","dialogs":[{"callID":"call-\#(id)@example.com","source":"192.0.2.10:5060","transport":"udp","startedAt":"\#(CatalogDate.format(start))"}],"participants":[{"aor":"sip:+15551230001@example.com","name":"Alice","role":"caller"}],"metadataVersions":[{"receivedAt":"\#(CatalogDate.format(start))","method":"INVITE","xml":"<recording xmlns='urn:ietf:params:xml:ns:recording:1'/>"}],"metadataVersionsDropped":0,"file":\#(fileJSON),"files":[]}"#
        }
        try await catalog.apply([
            try CatalogEntry(journalLine: Array(line("rec-a", "bank", base, file: audioPath.path).utf8)),
            try CatalogEntry(journalLine: Array(line("rec-b", "shop", base.addingTimeInterval(60), file: "/etc/passwd").utf8)),
        ], positions: [])
        self.calls = calls
    }

    var calls: (any LiveCallControl)?

    var api: AdminAPI {
        var logger = Logger(label: "api-test")
        logger.logLevel = .critical
        return AdminAPI(services: AdminAPIServices(catalog: catalog, calls: calls, audioRoots: [archive], bootstrapToken: admin), logger: logger)
    }

    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: api.router())
        try await app.test(.router, body)
        try? FileManager.default.removeItem(at: folder)
    }

    static func wav(_ samples: [Int16], channels: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        func u32(_ v: Int) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }
        func u16(_ v: Int) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        bytes += Array("RIFF".utf8); u32(36 + samples.count * 2); bytes += Array("WAVE".utf8)
        bytes += Array("fmt ".utf8); u32(16); u16(1); u16(channels); u32(8000); u32(8000 * 2 * channels); u16(2 * channels); u16(16)
        bytes += Array("data".utf8); u32(samples.count * 2)
        for sample in samples { u16(Int(UInt16(bitPattern: sample))) }
        return bytes
    }
}

func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

func object(_ buffer: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] ?? [:]
}

@Suite("Admin API")
struct AdminAPITests {
    @Test("docs/openapi.yaml lists exactly the operations the router serves")
    func openAPIMatchesRoutes() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.yaml")
        let document = try #require(try Yams.load(yaml: String(contentsOf: url, encoding: .utf8)) as? [String: Any])
        #expect((document["openapi"] as? String)?.hasPrefix("3.1") == true)
        let paths = try #require(document["paths"] as? [String: Any])
        var documented = Set<String>()
        for (path, value) in paths {
            for method in ((value as? [String: Any]) ?? [:]).keys where ["get", "post", "put", "delete", "patch"].contains(method) {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        let served = Set(AdminAPI.operations.map { "\($0.method) \($0.path)" })
        #expect(documented == served, "only documented: \(documented.subtracting(served)); only served: \(served.subtracting(documented))")
    }

    @Test("the router answers every documented operation with something other than 404 for an unknown route")
    func routesExist() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            for operation in AdminAPI.operations {
                let path = operation.path.replacingOccurrences(of: "{id}", with: "rec-a").replacingOccurrences(of: "{index}", with: "0")
                let method: HTTPRequest.Method = switch operation.method {
                case "GET": .get
                case "POST": .post
                case "PUT": .put
                default: .delete
                }
                try await client.execute(uri: path, method: method, headers: bearer("wrong")) { response in
                    // Unauthenticated API calls are 401; open ones answer; none is an unknown route.
                    let body = object(response.body)
                    #expect(!(response.status == .notFound && body["type"] == nil), "\(operation)")
                }
            }
        }
    }

    @Test("list: tokens, filters, bad parameters as problem JSON naming the parameter")
    func list() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            try await client.execute(uri: "/api/v1/recordings", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            try await client.execute(uri: "/api/v1/recordings?participant=%2B1555123", method: .get, headers: bearer(fixture.admin)) { response in
                #expect(response.status == .ok)
                let items = object(response.body)["items"] as? [[String: Any]] ?? []
                #expect(items.compactMap { $0["id"] as? String } == ["rec-b", "rec-a"])
                #expect((items.last?["file"] as? [String: Any])?["format"] as? String == "wav-pcm16")
            }
            for (query, parameter) in [("limit=0", "limit"), ("limit=abc", "limit"), ("from=yesterday", "from"), ("state=odd", "state"),
                                       ("cursor=%25%25", "cursor"), ("limit=1&limit=2", "limit"),
                                       ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to")] {
                try await client.execute(uri: "/api/v1/recordings?\(query)", method: .get, headers: bearer(fixture.admin)) { response in
                    #expect(response.status == .badRequest, "\(query)")
                    #expect(object(response.body)["parameter"] as? String == parameter, "\(query)")
                }
            }
        }
    }

    @Test("tokens: created with a role and tenant, stored hashed, scoped, revoked")
    func tokens() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            var secret = ""
            var id = ""
            try await client.execute(uri: "/api/v1/admin/tokens", method: .post, headers: bearer(fixture.admin),
                                     body: ByteBuffer(string: #"{"name":"bank auditor","role":"auditor","tenant":"bank"}"#)) { response in
                #expect(response.status == .created)
                let body = object(response.body)
                secret = body["token"] as? String ?? ""
                id = body["id"] as? String ?? ""
            }
            #expect(secret.hasPrefix("sprc_"))
            #expect(try await fixture.catalog.tokens().first?.secretHash == SHA256.hex(Array(secret.utf8)))
            // Tenant scope: the other tenant's recording does not exist for this token.
            try await client.execute(uri: "/api/v1/recordings", method: .get, headers: bearer(secret)) { response in
                #expect((object(response.body)["items"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["rec-a"])
            }
            try await client.execute(uri: "/api/v1/recordings/rec-b", method: .get, headers: bearer(secret)) { response in
                #expect(response.status == .notFound)
            }
            // Role: an auditor may not create tokens or control calls.
            try await client.execute(uri: "/api/v1/admin/tokens", method: .get, headers: bearer(secret)) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/api/v1/calls/rec-a/stop", method: .post, headers: bearer(secret)) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/api/v1/admin/tokens", method: .post, headers: bearer(fixture.admin),
                                     body: ByteBuffer(string: #"{"name":"x","role":"root"}"#)) { response in
                #expect(response.status == .badRequest)
                #expect(object(response.body)["parameter"] as? String == "role")
            }
            try await client.execute(uri: "/api/v1/admin/tokens/\(id)", method: .delete, headers: bearer(fixture.admin)) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/api/v1/recordings", method: .get, headers: bearer(secret)) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test("audio: whole, byte ranges, 416, audited; a catalogued path outside the archive is never served")
    func audio() async throws {
        let fixture = try await APIFixture()
        let bytes = fixture.audioBytes
        try await fixture.test { client in
            try await client.execute(uri: "/api/v1/recordings/rec-a/audio", method: .get, headers: bearer(fixture.admin)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "audio/wav")
                #expect(response.headers[.acceptRanges] == "bytes")
                #expect(Array(buffer: response.body) == bytes)
            }
            var headers = bearer(fixture.admin)
            headers[.range] = "bytes=100-199"
            try await client.execute(uri: "/api/v1/recordings/rec-a/audio", method: .get, headers: headers) { response in
                #expect(response.status == .partialContent)
                #expect(response.headers[.contentRange] == "bytes 100-199/\(bytes.count)")
                #expect(Array(buffer: response.body) == Array(bytes[100...199]))
            }
            headers[.range] = "bytes=-10"
            try await client.execute(uri: "/api/v1/recordings/rec-a/audio", method: .get, headers: headers) { response in
                #expect(Array(buffer: response.body) == Array(bytes.suffix(10)))
            }
            headers[.range] = "bytes=999999-"
            try await client.execute(uri: "/api/v1/recordings/rec-a/audio", method: .get, headers: headers) { response in
                #expect(response.status == .rangeNotSatisfiable)
                #expect(response.headers[.contentRange] == "bytes */\(bytes.count)")
            }
            try await client.execute(uri: "/api/v1/recordings/rec-b/audio", method: .get, headers: bearer(fixture.admin)) { response in
                #expect(response.status == .notFound)
                #expect(!String(buffer: response.body).contains("root:"))
            }
            try await client.execute(uri: "/api/v1/recordings/..%2F..%2Fetc%2Fpasswd/audio", method: .get, headers: bearer(fixture.admin)) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/api/v1/admin/audit", method: .get, headers: bearer(fixture.admin)) { response in
                let items = object(response.body)["items"] as? [[String: Any]] ?? []
                #expect(items.count == 4)  // whole, two ranges, and the 416 (asked for, so audited); not the refused path
                #expect(items.allSatisfy { $0["action"] as? String == "audio" && $0["tokenName"] as? String == "SIPRECD_API_TOKEN" })
            }
        }
    }

    @Test("waveform: one series of peaks per channel, the ramp on the left and silence on the right")
    func waveform() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            try await client.execute(uri: "/api/v1/recordings/rec-a/waveform?points=20", method: .get, headers: bearer(fixture.admin)) { response in
                #expect(response.status == .ok)
                let body = object(response.body)
                let channels = body["channels"] as? [[String: Any]] ?? []
                #expect(channels.count == 2)
                #expect(channels.first?["role"] as? String == "caller")
                let left = channels.first?["peaks"] as? [[Double]] ?? []
                let right = channels.last?["peaks"] as? [[Double]] ?? []
                #expect(left.count == 20)
                #expect(left.allSatisfy { $0[0] < -0.25 && $0[1] > 0.25 })
                #expect(right.allSatisfy { $0[0] == 0 && $0[1] == 0 })
                #expect(abs((body["seconds"] as? Double ?? 0) - 1) < 0.001)
            }
            try await client.execute(uri: "/api/v1/recordings/rec-a/waveform?points=5", method: .get, headers: bearer(fixture.admin)) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test("metadata versions are returned raw; health and readiness need no token")
    func metadataAndHealth() async throws {
        let fixture = try await APIFixture()
        try await fixture.test { client in
            try await client.execute(uri: "/api/v1/recordings/rec-a/metadata", method: .get, headers: bearer(fixture.admin)) { response in
                let versions = object(response.body)["versions"] as? [[String: Any]] ?? []
                #expect(versions.first?["xml"] as? String == "<recording xmlns='urn:ietf:params:xml:ns:recording:1'/>")
            }
            try await client.execute(uri: "/healthz", method: .get) { response in #expect(response.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { response in #expect(response.status == .ok) }
        }
    }
}

@Suite("HTTP byte ranges (RFC 9110 §14.1.2)")
struct ByteRangeTests {
    @Test("single ranges resolve against the length; odd ones are ignored; beyond the end is 416")
    func resolve() {
        #expect(ByteRange.resolve(nil, length: 100) == .whole)
        #expect(ByteRange.resolve("bytes=0-9", length: 100) == .partial(0...9))
        #expect(ByteRange.resolve("bytes=90-", length: 100) == .partial(90...99))
        #expect(ByteRange.resolve("bytes=90-500", length: 100) == .partial(90...99))
        #expect(ByteRange.resolve("bytes=-5", length: 100) == .partial(95...99))
        #expect(ByteRange.resolve("bytes=-500", length: 100) == .partial(0...99))
        #expect(ByteRange.resolve("bytes=100-", length: 100) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=-0", length: 100) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=5-1", length: 100) == .whole)
        #expect(ByteRange.resolve("bytes=0-1,5-6", length: 100) == .whole)
        #expect(ByteRange.resolve("items=0-1", length: 100) == .whole)
        #expect(ByteRange.resolve("bytes=x-y", length: 100) == .whole)
    }
}

@Suite("JSON bodies")
struct JSONBodyTests {
    @Test("what the API builds is written as JSON that parses back to the same values, keys in byte order, slashes unescaped")
    func roundTrip() throws {
        let stored = try JSONSerialization.jsonObject(with: Data(#"{"n":3,"x":2.5,"t":true,"f":false,"z":null,"s":"a/b"}"#.utf8))
        let optional: String? = nil
        let object: [String: Any] = [
            "id": "rec-1", "count": 50, "seconds": 180.0, "ratio": 0.25, "paused": false, "held": true,
            "none": NSNull(), "missing": optional as Any, "path": "archive/2026/12/01/x.wav",
            "text": "quote \" backslash \\ newline \n tab \t bell \u{07} é 日本",
            "items": [["aor": "sip:+15551230001@example.com", "role": NSNull()] as [String: Any]],
            "ids": ["a", "b"], "record": stored, "big": Int64(1) << 40,
        ]
        let bytes = JSONBody.encode(object)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""path":"archive/2026/12/01/x.wav""#))
        #expect(text.hasPrefix(#"{"big":1099511627776,"count":50,"held":true,"id":"rec-1","#), "\(text)")
        let back = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(back["id"] as? String == "rec-1")
        #expect(back["count"] as? Int == 50)
        #expect(back["seconds"] as? Double == 180)
        #expect(back["ratio"] as? Double == 0.25)
        #expect(back["paused"] as? Bool == false && back["held"] as? Bool == true)
        #expect(back["none"] is NSNull && back["missing"] is NSNull)
        #expect(back["text"] as? String == object["text"] as? String)
        #expect((back["items"] as? [[String: Any]])?.first?["aor"] as? String == "sip:+15551230001@example.com")
        #expect(back["ids"] as? [String] == ["a", "b"])
        let record = try #require(back["record"] as? [String: Any])
        #expect(record["n"] as? Int == 3 && record["x"] as? Double == 2.5 && record["t"] as? Bool == true && record["f"] as? Bool == false)
        #expect(record["z"] is NSNull && record["s"] as? String == "a/b")
        #expect(back["big"] as? Int == 1 << 40)
    }
}
