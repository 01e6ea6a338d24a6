import Catalog
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import SIPLocator

/// Webhook delivery that survives restarts. The records journal is applied to this outbox by
/// a `JournalIngestor` (as to the catalog): each batch's events are written as files under
/// `<data-dir>/webhooks/outbox/`, then the journal positions and the deriver's state are saved
/// (`state.json`, replaced atomically). A deliverer POSTs each file to its endpoint with an
/// HMAC signature and removes it on a 2xx; failures are retried with growing delays, and after
/// `giveUpAfter` the file moves to `failed/`.
///
/// Delivery is at least once: a crash between writing events and saving the positions writes
/// the same files again (same names, same `X-Siprecd-Delivery` id), so receivers deduplicate by
/// that id.
public final class WebhookOutbox: JournalSink, @unchecked Sendable {
    struct State: Codable, Sendable {
        var positions: [String: Int64] = [:]
        var deriver = WebhookEventDeriver()
    }

    public let folder: URL
    var outbox: URL { folder.appendingPathComponent("outbox") }
    var failed: URL { folder.appendingPathComponent("failed") }
    private let settings: WebhookSettings
    private let logger: Logger
    private let lock = NSLock()
    private let state: SinkStateFile<State>
    /// Next attempt time and attempts so far, by file name (not kept across restarts).
    private var attempts: [String: (next: Date, count: Int)] = [:]
    private let session: URLSession
    private let wake: AsyncStream<Void>.Continuation
    private let wakeStream: AsyncStream<Void>

    public private(set) var delivered = 0
    public private(set) var givenUp = 0

    /// Finds each endpoint's targets by DNS (SRV, then A/AAAA) in failover order; nil: the URL.
    private let locator: HTTPEndpointLocator?

    public init(folder: URL, settings: WebhookSettings, logger: Logger, locator: HTTPEndpointLocator? = nil) throws {
        self.locator = locator
        self.folder = folder
        self.settings = settings
        self.logger = logger
        state = SinkStateFile(url: folder.appendingPathComponent("state.json")) { State() }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("outbox"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("failed"), withIntermediateDirectories: true)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = settings.requestTimeout
        session = URLSession(configuration: configuration)
        (wakeStream, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func journalPositions() async throws -> [String: Int64] {
        try state.load().positions
    }

    public func apply(_ entries: [CatalogEntry], positions: [JournalPosition]) async throws {
        var next = try state.load()
        var written = 0
        for entry in entries {
            for kind in next.deriver.events(for: entry) {
                for (index, endpoint) in settings.endpoints.enumerated() where endpoint.events.contains(kind) {
                    let name = "\(index)-\(Self.safe(entry.id)).\(kind.rawValue).json"
                    let body = try Self.payload(kind, entry)
                    // Written beside and renamed into place: the deliverer lists `.json` files
                    // while this runs and must never post a half-written body.
                    let url = outbox.appendingPathComponent(name)
                    let part = url.appendingPathExtension("part")
                    try body.write(to: part)
                    guard rename(part.path, url.path) == 0 else {
                        throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                    }
                    written += 1
                }
            }
        }
        for position in positions { next.positions[position.path] = position.offset }
        try state.save(next)
        if written > 0 { wake.yield() }
    }

    static func safe(_ id: String) -> String {
        String(id.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" }.prefix(128).map(Character.init))
    }

    /// `{"event", "deliveryId", "occurredAt", "recording": {…}}`.
    static func payload(_ kind: WebhookEventKind, _ entry: CatalogEntry) throws -> Data {
        var recording: [String: Any] = [
            "id": entry.id, "interactionId": entry.interactionID, "segment": entry.segment, "source": entry.source,
            "state": entry.state, "tenant": entry.tenant, "startedAt": CatalogDate.format(entry.startedAt),
            "callIds": entry.callIDs,
            "participants": entry.participants.map { ["aor": $0.aor as Any, "name": $0.name as Any, "role": $0.role as Any] },
        ]
        if let ended = entry.endedAt { recording["endedAt"] = CatalogDate.format(ended) }
        if let duration = entry.durationSeconds { recording["durationSeconds"] = duration }
        if kind == .recordingAvailable {
            recording["files"] = entry.files.map {
                ["format": $0.format, "bytes": $0.bytes, "sha256": $0.sha256 as Any, "audioSeconds": $0.audioSeconds] as [String: Any]
            }
        }
        let object: [String: Any] = [
            "event": kind.rawValue,
            "deliveryId": "\(entry.id):\(kind.rawValue)",
            "occurredAt": CatalogDate.format(kind == .callStarted ? entry.startedAt : entry.endedAt ?? Date()),
            "recording": recording,
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// Delivers until the task is cancelled: every file in the outbox, each when its retry is due.
    public func runDeliveries() async {
        var iterator = wakeStream.makeAsyncIterator()
        while !Task.isCancelled {
            let nextDue = await deliverDue()
            let wait = max(0.05, min(nextDue?.timeIntervalSinceNow ?? 3600, 3600))
            // Woken by new events, else at the next retry (a timer that wakes the same stream).
            let wake = self.wake
            let timer = Task {
                try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                wake.yield()
            }
            _ = await iterator.next()
            timer.cancel()
        }
    }

    /// Attempts every due file once; returns when the next attempt is due (nil: nothing waits).
    @discardableResult
    public func deliverDue() async -> Date? {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: outbox.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        var nextDue: Date?
        for name in names {
            let now = Date()
            if let pending = lock.withLock({ attempts[name] }), pending.next > now {
                nextDue = min(nextDue ?? pending.next, pending.next)
                continue
            }
            let url = outbox.appendingPathComponent(name)
            guard let body = FileManager.default.contents(atPath: url.path),
                  let index = Int(name.prefix { $0 != "-" }), index < settings.endpoints.count else {
                try? FileManager.default.moveItem(at: url, to: failed.appendingPathComponent(name))
                continue
            }
            let endpoint = settings.endpoints[index]
            if await post(body, to: endpoint, name: name) {
                try? FileManager.default.removeItem(at: url)
                lock.withLock {
                    attempts[name] = nil
                    delivered += 1
                }
                continue
            }
            let created = ((try? FileManager.default.attributesOfItem(atPath: url.path)[.creationDate]) as? Date)
                ?? ((try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate]) as? Date) ?? now
            if now.timeIntervalSince(created) > settings.giveUpAfter {
                try? FileManager.default.moveItem(at: url, to: failed.appendingPathComponent(name))
                lock.withLock {
                    attempts[name] = nil
                    givenUp += 1
                }
                logger.error("webhook given up after retries; the event is kept in webhooks/failed", metadata: ["endpoint": "\(endpoint.url.host ?? "")"])
                continue
            }
            let count = (lock.withLock { attempts[name]?.count } ?? 0) + 1
            let delay = settings.retryDelays[min(count - 1, settings.retryDelays.count - 1)]
            let due = now.addingTimeInterval(delay)
            lock.withLock { attempts[name] = (due, count) }
            nextDue = min(nextDue ?? due, due)
            if count == 1 { logger.warning("webhook not delivered, will retry", metadata: ["endpoint": "\(endpoint.url.host ?? "")"]) }
        }
        return nextDue
    }

    /// One POST; true on a 2xx.
    /// One delivery, tried on each of the endpoint's located targets in turn: a transport error,
    /// a timeout or a 503 moves to the next; true on a 2xx.
    private func post(_ body: Data, to endpoint: WebhookEndpoint, name: String) async -> Bool {
        for url in await locator?.candidates(for: endpoint.url) ?? [endpoint.url] {
            switch await post(body, to: endpoint, url: url, name: name) {
            case .some(let status) where status == 503: continue
            case .some(let status): return (200..<300).contains(status)
            case .none: continue
            }
        }
        return false
    }

    /// The status of one POST, nil when no answer came.
    private func post(_ body: Data, to endpoint: WebhookEndpoint, url: URL, name: String) async -> Int? {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let event = (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:]
        request.setValue(event["event"] as? String ?? "", forHTTPHeaderField: "X-Siprecd-Event")
        request.setValue(event["deliveryId"] as? String ?? name, forHTTPHeaderField: "X-Siprecd-Delivery")
        let timestamp = String(Int(Date().timeIntervalSince1970))
        request.setValue(timestamp, forHTTPHeaderField: "X-Siprecd-Timestamp")
        if let secret = endpoint.secret {
            let signed = Array("\(timestamp).".utf8) + [UInt8](body)
            request.setValue("sha256=" + HMACSHA256.hex(key: Array(secret.utf8), message: signed), forHTTPHeaderField: "X-Siprecd-Signature")
        }
        do {
            let (_, response) = try await session.cancellableData(for: request)
            return (response as? HTTPURLResponse)?.statusCode
        } catch {
            return nil
        }
    }

    /// Files waiting in the outbox.
    public var pendingCount: Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: outbox.path)) ?? []).filter { $0.hasSuffix(".json") }.count
    }
}
