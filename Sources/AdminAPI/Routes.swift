import Catalog
import Foundation
import Hummingbird
import Logging
import NIOCore

/// The REST admin API (`docs/openapi.yaml`): recordings from the catalog, live calls from the
/// recorder, tokens and audit. Every route under `/api/v1` needs a bearer token; the roles a
/// route accepts are listed where it is registered.
public struct AdminAPI: Sendable {
    public let services: AdminAPIServices
    let authenticator: TokenAuthenticator
    let logger: Logger

    public init(services: AdminAPIServices, logger: Logger) {
        self.services = services
        authenticator = TokenAuthenticator(catalog: services.catalog, bootstrapSecret: services.bootstrapToken)
        self.logger = logger
    }

    static let readers: Set<APIRole> = [.admin, .supervisor, .auditor]
    static let controllers: Set<APIRole> = [.admin, .supervisor]

    /// Every (method, path) the router serves, as the OpenAPI document spells them.
    public static let operations: [(method: String, path: String)] = [
        ("GET", "/api/v1/recordings"), ("GET", "/api/v1/recordings/{id}"), ("GET", "/api/v1/recordings/{id}/metadata"),
        ("GET", "/api/v1/recordings/{id}/audio"), ("GET", "/api/v1/recordings/{id}/waveform"),
        ("GET", "/api/v1/calls"), ("POST", "/api/v1/calls/{id}/pause"), ("POST", "/api/v1/calls/{id}/resume"),
        ("GET", "/api/v1/recordings/{id}/legal-hold"), ("PUT", "/api/v1/recordings/{id}/legal-hold"),
        ("DELETE", "/api/v1/recordings/{id}/legal-hold"),
        ("POST", "/api/v1/calls/{id}/stop"), ("POST", "/api/v1/admin/reload"), ("POST", "/api/v1/admin/tokens"),
        ("GET", "/api/v1/admin/tokens"), ("DELETE", "/api/v1/admin/tokens/{id}"), ("GET", "/api/v1/admin/audit"),
        ("GET", "/api/v1/replication/recordings/{id}/files/{index}"), ("PUT", "/api/v1/replication/recordings/{id}/files/{index}"),
        ("PUT", "/api/v1/replication/recordings/{id}"),
        ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/"),
    ]

    /// The largest replication chunk a peer may PUT at once.
    static let maxReplicationChunk = 16 << 20

    private func replicationTarget(_ context: AdminAPIContext) throws -> (any ReplicationReceiver, String, Int) {
        guard let receiver = services.replication else { throw Problem.unavailable("replication is not enabled on this node") }
        let id = try context.parameters.require("id")
        guard let index = Int(try context.parameters.require("index")), index >= 0 else {
            throw Problem.invalid("index", "index must be the file's number in the recording (0 or more)")
        }
        return (receiver, id, index)
    }

    /// Maps the receiver's errors onto problem responses.
    static func replicationCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ReplicationReceiveError {
            switch error {
            case .offsetMismatch(let received):
                var problem = Problem(.conflict, "offset-mismatch", "Upload offset mismatch", detail: "continue at byte \(received)")
                problem.receivedBytes = received
                throw problem
            case .unprocessable(let why): throw Problem(.unprocessableContent, "replica-mismatch", "Replica does not match", detail: why)
            case .conflict(let why): throw Problem(.conflict, "replica-conflict", "Replica conflicts with the archive", detail: why)
            case .invalid(let why): throw Problem(.badRequest, "invalid-replica", "Invalid replication request", detail: why)
            }
        }
    }

    public func router() -> Router<AdminAPIContext> {
        let router = Router(context: AdminAPIContext.self)
        router.get("/healthz") { _, _ in json(["status": "ok"]) }
        router.get("/readyz") { _, _ in try await ready() }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: await services.metrics())))
        }
        router.get("/") { _, _ in try WebAssets.response(for: "index.html") }
        router.get("/web/{name}") { _, context in try WebAssets.response(for: context.parameters.require("name")) }

        let api = router.group("/api/v1")
        api.get("recordings") { request, context in
            let token = try await authenticator.authorize(request, roles: Self.readers)
            return try await listRecordings(request, token: token)
        }
        api.get("recordings/{id}") { request, context in
            let token = try await authenticator.authorize(request, roles: Self.readers)
            let entry = try await recording(context, token: token)
            var object = RecordingJSON.summary(entry)
            object["record"] = (try? JSONSerialization.jsonObject(with: Data(entry.recordJSON.utf8))) ?? [:]
            return json(object)
        }
        api.get("recordings/{id}/metadata") { request, context in
            let token = try await authenticator.authorize(request, roles: Self.readers)
            let entry = try await recording(context, token: token)
            let record = (try? JSONSerialization.jsonObject(with: Data(entry.recordJSON.utf8))) as? [String: Any] ?? [:]
            return json([
                "recordingId": entry.id,
                "versions": record["metadataVersions"] ?? [],
                "dropped": record["metadataVersionsDropped"] ?? 0,
            ])
        }
        api.get("recordings/{id}/audio") { request, context in
            let token = try await authenticator.authorize(request, roles: Self.readers)
            return try await audio(request, context, token: token)
        }
        api.get("recordings/{id}/waveform") { request, context in
            let token = try await authenticator.authorize(request, roles: Self.readers)
            return try await waveform(request, context, token: token)
        }
        api.get("recordings/{id}/legal-hold") { request, context in
            let token = try await authenticator.authorize(request, roles: Self.readers)
            let entry = try await recording(context, token: token)
            let held = try await catalogCall { try await services.catalog.isOnLegalHold(id: entry.id) }
            return json(["recordingId": entry.id, "legalHold": held])
        }
        api.put("recordings/{id}/legal-hold") { request, context in
            try await setLegalHold(request, context, true)
        }
        api.delete("recordings/{id}/legal-hold") { request, context in
            try await setLegalHold(request, context, false)
        }
        api.get("calls") { request, _ in
            let token = try await authenticator.authorize(request, roles: Self.readers)
            let calls = await services.calls?.liveCalls() ?? []
            return encodable(LiveCallPage(items: calls.filter { token.tenant == nil || $0.tenant == token.tenant }))
        }
        api.post("calls/{id}/pause") { request, context in
            try await control(request, context) { calls, id in await calls.pause(recordingID: id) }
        }
        api.post("calls/{id}/resume") { request, context in
            try await control(request, context) { calls, id in await calls.resume(recordingID: id) }
        }
        api.post("calls/{id}/stop") { request, context in
            let token = try await authenticator.authorize(request, roles: Self.controllers)
            let id = try context.parameters.require("id")
            guard let calls = services.calls, let call = await calls.liveCalls().first(where: { $0.recordingId == id }),
                  token.tenant == nil || call.tenant == token.tenant, await calls.stop(recordingID: id) else {
                throw Problem.notFound("no live call records \(id)")
            }
            return json(["recordingId": id, "state": "stopping"], status: .accepted)
        }
        api.get("replication/recordings/{id}/files/{index}") { request, context in
            _ = try await authenticator.authorize(request, roles: [.admin])
            let (receiver, id, index) = try replicationTarget(context)
            let status = try await Self.replicationCall { try await receiver.status(recordingID: id, index: index) }
            return json(["recordingId": id, "index": index, "receivedBytes": status.receivedBytes, "committed": status.committed])
        }
        api.put("replication/recordings/{id}/files/{index}") { request, context in
            _ = try await authenticator.authorize(request, roles: [.admin])
            let (receiver, id, index) = try replicationTarget(context)
            guard let offsetText = request.uri.queryParameters.get("offset"), let offset = Int64(offsetText), offset >= 0 else {
                throw Problem.invalid("offset", "offset must be the byte position of the chunk in the file (0 or more)")
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: Self.maxReplicationChunk)
            } catch {
                throw Problem(.contentTooLarge, "chunk-too-large", "Chunk too large",
                              detail: "send chunks of at most \(Self.maxReplicationChunk) bytes")
            }
            let received = try await Self.replicationCall {
                try await receiver.append(recordingID: id, index: index, offset: offset, bytes: Array(buffer: body))
            }
            return json(["recordingId": id, "index": index, "receivedBytes": received])
        }
        api.put("replication/recordings/{id}") { request, context in
            _ = try await authenticator.authorize(request, roles: [.admin])
            guard let receiver = services.replication else { throw Problem.unavailable("replication is not enabled on this node") }
            let id = try context.parameters.require("id")
            let body = try await request.body.collect(upTo: 4 << 20)
            let stored = try await Self.replicationCall { try await receiver.commit(recordingID: id, manifest: Array(buffer: body)) }
            return json(["recordingId": id, "stored": stored], status: stored ? .created : .ok)
        }
        api.post("admin/reload") { request, context in
            let token = try await authenticator.authorize(request, roles: [.admin])
            guard let reload = services.reload else {
                throw Problem.unavailable("this server was started without a configuration file to reload")
            }
            let outcome: ReloadOutcome
            do {
                outcome = try await reload()
            } catch {
                // Nothing changed: the running configuration stays whole.
                throw Problem(.badRequest, "invalid-configuration", "Configuration not reloaded", detail: "\(error)")
            }
            try? await services.catalog.appendAudit(AuditEntry(at: Date(), tokenID: token.id, tokenName: token.name, action: "config-reload",
                                                               recordingID: nil, remote: context.remoteAddress?.ipAddress))
            return json(["reloaded": true, "applied": outcome.applied, "restartRequired": outcome.restartRequired])
        }
        api.post("admin/tokens") { request, context in
            _ = try await authenticator.authorize(request, roles: [.admin])
            return try await createToken(request, context)
        }
        api.get("admin/tokens") { request, _ in
            _ = try await authenticator.authorize(request, roles: [.admin])
            let tokens = try await catalogCall { try await services.catalog.tokens() }
            return json(["items": tokens.map(RecordingJSON.token)])
        }
        api.delete("admin/tokens/{id}") { request, context in
            _ = try await authenticator.authorize(request, roles: [.admin])
            let id = try context.parameters.require("id")
            guard try await catalogCall({ try await services.catalog.deleteToken(id: id) }) else {
                throw Problem.notFound("no token \(id)")
            }
            authenticator.forget(tokenID: id)
            return Response(status: .noContent)
        }
        api.get("admin/audit") { request, _ in
            _ = try await authenticator.authorize(request, roles: [.admin, .auditor])
            let query = try Query(request)
            let limit = try query.integer("limit", default: 50, range: 1...RecordingQuery.maxLimit)
            let before = try query.string("cursor").map { text -> Int64 in
                guard let value = Int64(text), value > 0 else { throw Problem.invalid("cursor", "not a cursor this server gave") }
                return value
            }
            let entries = try await catalogCall { try await services.catalog.audit(limit: limit, before: before) }
            return json([
                "items": entries.map(RecordingJSON.audit),
                "nextCursor": entries.count == limit ? entries.last.map { String($0.sequence) } as Any : NSNull(),
            ])
        }
        return router
    }

    // MARK: - Handlers

    private func ready() async throws -> Response {
        var report = await services.readiness()
        do {
            try await services.catalog.ping()
            report.checks["catalog"] = report.checks["catalog"] ?? "ok"
        } catch {
            // Recording goes on without the database (the journal keeps records); readiness
            // says so, so an operator sees it.
            report.checks["catalog"] = "unreachable"
        }
        if report.ready {
            return json(["status": "ready", "checks": report.checks])
        }
        var problem = Problem.unavailable("not ready: " + report.checks.filter { $0.value != "ok" }.keys.sorted().joined(separator: ", "))
        problem.extra = report.checks
        throw problem
    }

    private func listRecordings(_ request: Request, token: APIToken) async throws -> Response {
        let query = try Query(request)
        var recordingQuery = RecordingQuery(
            from: try query.date("from"), to: try query.date("to"),
            participant: try query.string("participant", maxLength: 256),
            callID: try query.string("callId", maxLength: 1024), vendorID: try query.string("vendorId", maxLength: 1024),
            tenant: try query.string("tenant", maxLength: 128),
            state: try query.oneOf("state", ["active", "completed", "recovered", "failed"]),
            source: try query.oneOf("source", ["siprec", "cucm-bib", "cube-nbr", "plain"]),
            limit: try query.integer("limit", default: RecordingQuery.defaultLimit, range: 1...RecordingQuery.maxLimit))
        if let cursor = try query.string("cursor", maxLength: 400) {
            guard let after = RecordingCursor(token: cursor) else { throw Problem.invalid("cursor", "not a cursor this server gave") }
            recordingQuery.after = after
        }
        if let from = recordingQuery.from, let to = recordingQuery.to, to <= from {
            throw Problem.invalid("to", "must be later than from")
        }
        if let tenant = token.tenant {
            if let asked = recordingQuery.tenant, asked != tenant { return json(["items": [Any](), "nextCursor": NSNull()]) }
            recordingQuery.tenant = tenant
        }
        let page = try await catalogCall { try await services.catalog.list(recordingQuery) }
        return json([
            "items": page.items.map(RecordingJSON.summary),
            "nextCursor": page.next.map { $0.token as Any } ?? NSNull(),
        ])
    }

    /// A held recording is never purged by retention; setting and clearing are audited.
    private func setLegalHold(_ request: Request, _ context: AdminAPIContext, _ held: Bool) async throws -> Response {
        let token = try await authenticator.authorize(request, roles: [.admin])
        let entry = try await recording(context, token: token)
        _ = try await catalogCall { try await services.catalog.setLegalHold(id: entry.id, held) }
        try? await services.catalog.appendAudit(AuditEntry(at: Date(), tokenID: token.id, tokenName: token.name,
                                                           action: held ? "legal-hold" : "legal-hold-released",
                                                           recordingID: entry.id, remote: context.remoteAddress?.ipAddress))
        return json(["recordingId": entry.id, "legalHold": held])
    }

    private func recording(_ context: AdminAPIContext, token: APIToken) async throws -> CatalogEntry {
        let id = try context.parameters.require("id")
        guard id.utf8.count <= 256, let entry = try await catalogCall({ try await services.catalog.recording(id: id, tenant: token.tenant) }) else {
            throw Problem.notFound("no recording \(id.prefix(256))")
        }
        return entry
    }

    private func audioFile(_ request: Request, _ entry: CatalogEntry) throws -> (CatalogEntry.File, URL) {
        let index = try Query(request).integer("file", default: 0, range: 0...64)
        guard index < entry.files.count else {
            throw Problem.notFound(entry.files.isEmpty ? "recording \(entry.id) has no audio file (yet)" : "recording \(entry.id) has \(entry.files.count) file(s)")
        }
        let file = entry.files[index]
        guard let url = AudioPath.resolve(file.path, within: services.audioRoots) else {
            logger.error("a catalogued audio path is outside the archive and spool: refused", metadata: ["recording": "\(entry.id)"])
            throw Problem.notFound("the audio of recording \(entry.id) is not available")
        }
        return (file, url)
    }

    private func audio(_ request: Request, _ context: AdminAPIContext, token: APIToken) async throws -> Response {
        let entry = try await recording(context, token: token)
        let (file, stored) = try audioFile(request, entry)
        let requested = try Query(request).oneOf("format", ["wav", "wav-ulaw", "wav-alaw", "flac", "ogg", "mp3"])
        // No audio leaves without its audit entry.
        do {
            try await services.catalog.appendAudit(AuditEntry(at: Date(), tokenID: token.id, tokenName: token.name, action: "audio",
                                                              recordingID: entry.id, remote: context.remoteAddress?.ipAddress))
        } catch {
            throw Problem.unavailable("the audit log cannot be written, so audio is not served")
        }
        var headers = HTTPFields()
        headers[.acceptRanges] = "bytes"
        var url = stored
        var format = file.format
        if let requested, AudioPath.canonical(requested) != file.format {
            guard let transcoder = services.transcoder, transcoder.formats.contains(requested) else {
                throw Problem.invalid("format", "this server cannot convert to \(requested)")
            }
            do {
                url = try await transcoder.transcode(url, to: requested)
            } catch {
                throw Problem.unavailable("conversion to \(requested) failed")
            }
            format = requested
        }
        // The file (stored or converted) is streamed, whole or by range.
        let length = AudioPath.size(url)
        headers[.contentType] = AudioPath.mediaType(format)
        headers[.contentDisposition] = "attachment; filename=\"\(AudioPath.safeName(entry.id)).\(AudioPath.fileExtension(format))\""
        switch ByteRange.resolve(request.headers[.range], length: length) {
        case .whole:
            headers[.contentLength] = String(length)
            return Response(status: .ok, headers: headers, body: try await FileIO().loadFile(path: url.path, context: context))
        case .partial(let range):
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(length)"
            headers[.contentLength] = String(range.count)
            return Response(status: .partialContent, headers: headers,
                            body: try await FileIO().loadFile(path: url.path, range: range, context: context))
        case .unsatisfiable:
            var problem = Problem(.rangeNotSatisfiable, "range-not-satisfiable", "Range not satisfiable", detail: "the file has \(length) bytes")
            problem.extraHeaders[.contentRange] = "bytes */\(length)"
            throw problem
        }
    }

    private func waveform(_ request: Request, _ context: AdminAPIContext, token: APIToken) async throws -> Response {
        let points = try Query(request).integer("points", default: 800, range: 16...4000)
        let entry = try await recording(context, token: token)
        let (file, url) = try audioFile(request, entry)
        var source = url
        if !file.format.hasPrefix("wav") {
            guard let transcoder = services.transcoder else { throw Problem.unavailable("no converter for \(file.format)") }
            guard let converted = try? await transcoder.transcode(url, to: "wav") else {
                throw Problem.unavailable("conversion of \(file.format) failed")
            }
            source = converted
        }
        guard let peaks = try? Waveform.peaks(of: source, points: points) else {
            throw Problem.unavailable("the audio of recording \(entry.id) could not be read")
        }
        return json([
            "recordingId": entry.id,
            "seconds": peaks.seconds,
            "sampleRate": peaks.sampleRate,
            "channels": peaks.channels.enumerated().map { index, channel in
                [
                    "role": index < file.channelRoles.count ? file.channelRoles[index] : "channel \(index)",
                    "peaks": channel.map { [Double($0.min), Double($0.max)] },
                ] as [String: Any]
            },
        ])
    }

    private func control(_ request: Request, _ context: AdminAPIContext,
                         _ action: @Sendable (any LiveCallControl, String) async -> LiveCall?) async throws -> Response {
        let token = try await authenticator.authorize(request, roles: Self.controllers)
        let id = try context.parameters.require("id")
        guard let calls = services.calls, let call = await calls.liveCalls().first(where: { $0.recordingId == id }),
              token.tenant == nil || call.tenant == token.tenant, let updated = await action(calls, id) else {
            throw Problem.notFound("no live call records \(id)")
        }
        return encodable(updated)
    }

    private func createToken(_ request: Request, _ context: AdminAPIContext) async throws -> Response {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] else {
            throw Problem.invalid("body", "expected a JSON object with name and role")
        }
        guard let name = object["name"] as? String, !name.isEmpty, name.count <= 100 else {
            throw Problem.invalid("name", "a name of 1 to 100 characters is required")
        }
        guard let roleName = object["role"] as? String, let role = APIRole(rawValue: roleName) else {
            throw Problem.invalid("role", "role must be admin, supervisor or auditor")
        }
        var tenant: String?
        if let value = object["tenant"], !(value is NSNull) {
            guard let text = value as? String, !text.isEmpty, text.count <= 128 else { throw Problem.invalid("tenant", "a tenant name, or null") }
            tenant = text
        }
        let (secret, token) = TokenAuthenticator.newToken(name: name, role: role, tenant: tenant)
        try await catalogCall { try await services.catalog.insertToken(token) }
        var created = RecordingJSON.token(token)
        created["token"] = secret
        return json(created, status: .created)
    }

    /// A catalog call whose failure is the database's, not the request's: 503.
    private func catalogCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let problem as Problem {
            throw problem
        } catch {
            logger.warning("catalog query failed", metadata: ["error": "\(error)"])
            throw Problem.unavailable("the catalog is unreachable; recording continues and the catalog catches up when it returns")
        }
    }
}

struct LiveCallPage: Encodable {
    var items: [LiveCall]
}

func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONBody.encode(object))))
}

func encodable(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
