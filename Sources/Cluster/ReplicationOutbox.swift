import Catalog
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import SIPLocator

/// A node this one sends its finished recordings to.
public struct ReplicationPeer: Sendable, Equatable {
    /// Names the peer in logs, metrics and the outbox folder.
    public var name: String
    /// The peer's admin API (`https://node2.example.com:8443`).
    public var url: URL
    /// A bearer token of the peer with the admin role.
    public var token: String?
    /// Upload bandwidth cap toward this peer (nil: none).
    public var maxBytesPerSecond: Int?

    public init(name: String, url: URL, token: String?, maxBytesPerSecond: Int? = nil) {
        self.name = name
        self.url = url
        self.token = token
        self.maxBytesPerSecond = maxBytesPerSecond
    }
}

public struct ReplicationSettings: Sendable {
    /// This node's name: the origin of what it sends.
    public var node: String
    /// This node's archive: files are sent with their path under it.
    public var archiveDirectory: URL
    public var peers: [ReplicationPeer]
    public var chunkBytes = 1 << 20
    public var retryDelays: [TimeInterval] = [1, 5, 30, 120, 600]
    /// How often an unreachable peer's `/healthz` is tried.
    public var probeInterval: TimeInterval = 2
    /// Finds each peer's targets by DNS (SRV `_http._tcp` / `_https._tcp`, then A/AAAA) and
    /// the order to fail over in; nil: the URL as it is.
    public var locator: HTTPEndpointLocator?
    public var requestTimeout: TimeInterval = 30

    public init(node: String, archiveDirectory: URL, peers: [ReplicationPeer]) {
        self.node = node
        self.archiveDirectory = archiveDirectory
        self.peers = peers
    }
}

/// Sends every finished recording of this node to each peer. Fed from the records journal by a
/// `JournalIngestor` (as the catalog and the webhooks are): a recording whose record is final
/// and whose files are all in the archive becomes one file per peer under
/// `<data-dir>/replication/outbox/<peer>/`, written before the journal position is saved, so
/// nothing is skipped across crashes, and a peer that is down or joins later catches up from
/// the outbox. A sender per peer uploads the files in chunks (resuming where the peer's
/// staging part ends), then commits the manifest; the peer stores it once by recording id and
/// SHA-256, so sending twice is harmless. Recordings that came from another node by
/// replication are not sent on.
public final class ReplicationOutbox: JournalSink, @unchecked Sendable {
    struct State: Codable, Sendable {
        var positions: [String: Int64] = [:]
    }

    /// One queued recording: the manifest the peer gets, and where the files are here.
    struct Item: Codable {
        var manifest: ReplicationManifest
        var localPaths: [Int: String]
    }

    public struct PeerStatistics: Sendable, Equatable {
        public var pending = 0
        public var sent = 0
        public var bytesSent: Int64 = 0
        /// Age of the oldest recording waiting for this peer (replication lag), seconds.
        public var oldestPendingSeconds: Double = 0
        public var failing = false
    }

    public let folder: URL
    private let settings: ReplicationSettings
    private let logger: Logger
    private let lock = NSLock()
    private let state: SinkStateFile<State>
    private var statistics: [String: PeerStatistics] = [:]
    private var attempts: [String: (next: Date, count: Int)] = [:]
    /// Peers whose last attempt could not reach them.
    private var unreachable: Set<String> = []
    private let session: URLSession
    private let wakes: [AsyncStream<Void>.Continuation]
    private let wakeStreams: [AsyncStream<Void>]

    public init(folder: URL, settings: ReplicationSettings, logger: Logger) throws {
        self.folder = folder
        self.settings = settings
        self.logger = logger
        state = SinkStateFile(url: folder.appendingPathComponent("state.json")) { State() }
        var wakes: [AsyncStream<Void>.Continuation] = []
        var streams: [AsyncStream<Void>] = []
        for peer in settings.peers {
            try FileManager.default.createDirectory(at: Self.outbox(folder, peer), withIntermediateDirectories: true)
            let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            wakes.append(continuation)
            streams.append(stream)
        }
        self.wakes = wakes
        self.wakeStreams = streams
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = settings.requestTimeout
        session = URLSession(configuration: configuration)
    }

    static func outbox(_ folder: URL, _ peer: ReplicationPeer) -> URL {
        folder.appendingPathComponent("outbox").appendingPathComponent(safe(peer.name))
    }

    static func safe(_ text: String) -> String {
        String(text.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" || $0 == "." }
            .prefix(128).map(Character.init))
    }

    public var currentStatistics: [String: PeerStatistics] {
        lock.withLock { statistics }
    }

    // MARK: - Journal side

    public func journalPositions() async throws -> [String: Int64] {
        try state.load().positions
    }

    public func apply(_ entries: [CatalogEntry], positions: [JournalPosition]) async throws {
        var next = try state.load()
        var queued = 0
        let encoder = JSONEncoder()
        for entry in entries {
            guard let item = item(for: entry) else { continue }
            let data = try encoder.encode(item)
            for peer in settings.peers {
                // Written beside and renamed into place: the sender lists `.json` files while
                // this runs, and one read half-written would be taken for a broken item and
                // removed (seen in CI: a recording never reached its peer).
                let url = Self.outbox(folder, peer).appendingPathComponent(Self.safe(entry.id) + ".json")
                let part = url.appendingPathExtension("part")
                try data.write(to: part)
                guard rename(part.path, url.path) == 0 else {
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
                queued += 1
            }
        }
        for position in positions { next.positions[position.path] = position.offset }
        try state.save(next)
        if queued > 0 { for wake in wakes { wake.yield() } }
    }

    /// What to send for a journal line: only this node's recordings, once final with every
    /// file archived and hashed (an earlier line of the same recording is not sent).
    func item(for entry: CatalogEntry) -> Item? {
        guard entry.origin == nil, entry.state != "active" else { return nil }
        let root = settings.archiveDirectory.standardizedFileURL.path + "/"
        var files: [ReplicationManifest.File] = []
        var paths: [Int: String] = [:]
        for (index, file) in entry.files.enumerated() {
            guard file.location == "archive", let sha = file.sha256, file.path.hasPrefix(root) else { return nil }
            files.append(.init(index: index, relativePath: String(file.path.dropFirst(root.count)), sha256: sha, bytes: Int64(file.bytes)))
            paths[index] = file.path
        }
        return Item(manifest: ReplicationManifest(recordingID: entry.id, origin: settings.node, record: entry.recordJSON, files: files),
                    localPaths: paths)
    }

    // MARK: - Sending

    /// Sends to every peer until the task is cancelled.
    public func runSenders() async {
        await withTaskGroup(of: Void.self) { group in
            for (index, peer) in settings.peers.enumerated() {
                group.addTask { await self.runSender(peer, wakes: self.wakeStreams[index], wake: self.wakes[index]) }
            }
        }
    }

    private func runSender(_ peer: ReplicationPeer, wakes: AsyncStream<Void>, wake: AsyncStream<Void>.Continuation) async {
        var iterator = wakes.makeAsyncIterator()
        while !Task.isCancelled {
            // A peer that was unreachable is probed often and cheaply (its /healthz): once it
            // answers, everything waiting for it is sent at once instead of at each item's
            // next retry, so a node that comes back catches up within seconds.
            if lock.withLock({ unreachable.contains(peer.name) }), await probe(peer) {
                lock.withLock {
                    unreachable.remove(peer.name)
                    for key in attempts.keys where key.hasPrefix(peer.name + "/") { attempts[key] = nil }
                }
                logger.notice("replication peer reachable again; sending what waited", metadata: ["peer": "\(peer.name)"])
            }
            var nextDue = await sendDue(to: peer)
            if lock.withLock({ unreachable.contains(peer.name) }) {
                nextDue = min(nextDue ?? .distantFuture, Date().addingTimeInterval(settings.probeInterval))
            }
            let wait = max(0.05, min(nextDue?.timeIntervalSinceNow ?? 60, 60))
            let timer = Task {
                try? await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                wake.yield()
            }
            _ = await iterator.next()
            timer.cancel()
        }
    }

    /// Sends every due item to `peer` once, oldest first; returns when the next retry is due.
    @discardableResult
    public func sendDue(to peer: ReplicationPeer) async -> Date? {
        let box = Self.outbox(folder, peer)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: box.path)) ?? []).filter { $0.hasSuffix(".json") }
        let dated = names.map { name -> (String, Date) in
            let modified = (try? FileManager.default.attributesOfItem(atPath: box.appendingPathComponent(name).path)[.modificationDate]) as? Date
            return (name, modified ?? Date())
        }.sorted { $0.1 < $1.1 }
        lock.withLock {
            statistics[peer.name, default: PeerStatistics()].pending = dated.count
            statistics[peer.name, default: PeerStatistics()].oldestPendingSeconds = dated.first.map { Date().timeIntervalSince($0.1) } ?? 0
        }
        var nextDue: Date?
        for (name, _) in dated {
            if Task.isCancelled { return nil }
            let key = peer.name + "/" + name
            let now = Date()
            if let pending = lock.withLock({ attempts[key] }), pending.next > now {
                nextDue = min(nextDue ?? pending.next, pending.next)
                continue
            }
            let url = box.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path), let item = try? JSONDecoder().decode(Item.self, from: data) else {
                logger.error("replication outbox file unreadable; removed", metadata: ["peer": "\(peer.name)", "file": "\(name)"])
                try? FileManager.default.removeItem(at: url)
                continue
            }
            do {
                try await send(item, to: peer)
                try? FileManager.default.removeItem(at: url)
                lock.withLock {
                    // The peer works: items that failed on it a few times (while it was starting or
                    // busy) are tried again now rather than at a backoff grown to minutes. One
                    // that keeps failing (a conflict) stays on its backoff.
                    for (other, attempt) in attempts where other.hasPrefix(peer.name + "/") && attempt.count < 4 { attempts[other] = nil }
                    statistics[peer.name, default: PeerStatistics()].sent += 1
                    statistics[peer.name, default: PeerStatistics()].pending -= 1
                    statistics[peer.name, default: PeerStatistics()].failing = false
                }
            } catch {
                let count = (lock.withLock { attempts[key]?.count } ?? 0) + 1
                let due = now.addingTimeInterval(settings.retryDelays[min(count - 1, settings.retryDelays.count - 1)])
                lock.withLock {
                    attempts[key] = (due, count)
                    statistics[peer.name, default: PeerStatistics()].failing = true
                }
                nextDue = min(nextDue ?? due, due)
                if count == 1 || count % 10 == 0 {
                    logger.warning("replication to a peer failed; will retry", metadata: [
                        "peer": "\(peer.name)", "recording": "\(item.manifest.recordingID)", "error": "\(error)", "attempt": "\(count)",
                    ])
                }
                // A peer that is down fails every item the same way: try the rest later.
                if case SendError.unreachable = error {
                    lock.withLock { _ = unreachable.insert(peer.name) }
                    return due
                }
            }
        }
        return nextDue
    }

    /// True when the peer's admin API answers `/healthz`.
    private func probe(_ peer: ReplicationPeer) async -> Bool {
        for base in await settings.locator?.candidates(for: peer.url) ?? [peer.url] {
            var request = URLRequest(url: base.appendingPathComponent("healthz"))
            request.timeoutInterval = 3
            if let (_, response) = try? await session.cancellableData(for: request), (response as? HTTPURLResponse)?.statusCode == 200 { return true }
        }
        return false
    }

    enum SendError: Error, CustomStringConvertible {
        case unreachable(String)
        case refused(Int, String)
        case localFileMissing(String)
        var description: String {
            switch self {
            case .unreachable(let why): "peer unreachable: \(why)"
            case .refused(let status, let body): "peer answered \(status): \(body.prefix(300))"
            case .localFileMissing(let path): "file to send is missing: \(path)"
            }
        }
    }

    /// One request to the peer, tried on each of its located targets in turn: a transport
    /// error, a timeout or a 503 moves to the next (RFC 3263 §4.3); any other answer is final.
    private func request(_ peer: ReplicationPeer, _ method: String, _ path: String, offset: Int64? = nil, body: Data? = nil,
                         contentType: String? = nil) async throws -> (Int, Data) {
        let bases = await settings.locator?.candidates(for: peer.url) ?? [peer.url]
        var lastError: (any Error)?
        var last503: (Int, Data)?
        for base in bases {
            var components = URLComponents(url: base.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
            if let offset { components.queryItems = [URLQueryItem(name: "offset", value: String(offset))] }
            var request = URLRequest(url: components.url!)
            request.httpMethod = method
            request.httpBody = body
            if let token = peer.token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
            request.setValue(settings.node, forHTTPHeaderField: "X-Siprecd-Origin")
            do {
                let (data, response) = try await session.cancellableData(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if status == 503 {
                    last503 = (status, data)
                    continue
                }
                return (status, data)
            } catch {
                lastError = error
            }
        }
        if let last503 { return last503 }
        throw SendError.unreachable("\(lastError.map { "\($0)" } ?? "no target")")
    }

    private func send(_ item: Item, to peer: ReplicationPeer) async throws {
        let id = item.manifest.recordingID
        for file in item.manifest.files {
            guard let path = item.localPaths[file.index], let handle = FileHandle(forReadingAtPath: path) else {
                throw SendError.localFileMissing(item.localPaths[file.index] ?? "file \(file.index)")
            }
            defer { try? handle.close() }
            // Where the peer's copy stands: committed, partly received (resume), or nothing.
            let (status, body) = try await request(peer, "GET", "api/v1/replication/recordings/\(id)/files/\(file.index)")
            guard status == 200, let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
                throw SendError.refused(status, String(decoding: body, as: UTF8.self))
            }
            if object["committed"] as? Bool == true { break }
            var offset = (object["receivedBytes"] as? NSNumber)?.int64Value ?? 0
            if offset > file.bytes { offset = 0 }
            let started = Date()
            var sentHere: Int64 = 0
            while offset < file.bytes || (file.bytes == 0 && offset == 0 && sentHere == 0) {
                try handle.seek(toOffset: UInt64(offset))
                let chunk = try handle.read(upToCount: settings.chunkBytes) ?? Data()
                if chunk.isEmpty && file.bytes > 0 { throw SendError.localFileMissing(path) }
                let (status, body) = try await request(peer, "PUT", "api/v1/replication/recordings/\(id)/files/\(file.index)",
                                                       offset: offset, body: chunk, contentType: "application/octet-stream")
                if status == 409, let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
                   let received = (object["receivedBytes"] as? NSNumber)?.int64Value {
                    offset = received > file.bytes ? 0 : received
                    continue
                }
                guard status == 200 else { throw SendError.refused(status, String(decoding: body, as: UTF8.self)) }
                offset += Int64(chunk.count)
                sentHere += Int64(chunk.count)
                lock.withLock { statistics[peer.name, default: PeerStatistics()].bytesSent += Int64(chunk.count) }
                if chunk.isEmpty { break }
                // The bandwidth cap: never ahead of maxBytesPerSecond since this file started.
                if let cap = peer.maxBytesPerSecond, cap > 0 {
                    let due = Double(sentHere) / Double(cap) - Date().timeIntervalSince(started)
                    if due > 0 { try await Task.sleep(for: .milliseconds(Int(due * 1000))) }
                }
            }
        }
        let manifest = try JSONEncoder().encode(item.manifest)
        let (status, body) = try await request(peer, "PUT", "api/v1/replication/recordings/\(id)", body: manifest, contentType: "application/json")
        guard status == 200 || status == 201 else { throw SendError.refused(status, String(decoding: body, as: UTF8.self)) }
    }
}
