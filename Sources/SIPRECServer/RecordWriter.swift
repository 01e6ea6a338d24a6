import Atomics
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOPosix

/// Writes each recording's record as JSON under `<data-dir>/recordings/YYYY/MM/DD/<id>.json`
/// (UTC date of the start), atomically (temporary file, then rename), on its own thread: never
/// on the SIP event loop. Writes of one recording are coalesced: when a newer state arrives
/// before the older one was written, only the newer one is written.
final class RecordWriter: Sendable {
    let root: URL
    private let pool: NIOThreadPool
    private let logger: Logger
    private let pending = NIOLockedValueBox<[String: RecordingRecord]>([:])
    private let failures = Counter(label: "siprecd_record_write_failures_total")
    /// False from a failed write until a write or a probe succeeds again.
    private let healthy = ManagedAtomic<Bool>(true)
    private let probing = ManagedAtomic<Bool>(false)

    init(dataDirectory: String, logger: Logger) {
        root = URL(fileURLWithPath: dataDirectory).appendingPathComponent("recordings")
        self.logger = logger
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        // Known at once rather than after the first call's record fails.
        if !Self.canWrite(in: root) {
            healthy.store(false, ordering: .relaxed)
            logger.error("recording records cannot be written: new calls get 503 until they can", metadata: ["folder": "\(root.path)"])
        }
    }

    private static func canWrite(in root: URL) -> Bool {
        let url = root.appendingPathComponent(".probe")
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try Data("ok".utf8).write(to: url, options: .atomic)
            try FileManager.default.removeItem(at: url)
            return true
        } catch {
            return false
        }
    }

    static func relativePath(of record: RecordingRecord) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let day = calendar.dateComponents([.year, .month, .day], from: record.startedAt)
        let folder = String(format: "%04d/%02d/%02d", day.year ?? 1970, day.month ?? 1, day.day ?? 1)
        return "\(folder)/\(record.recordingID).json"
    }

    func write(_ record: RecordingRecord) {
        let alreadyQueued = pending.withLockedValue { queue in
            queue.updateValue(record, forKey: record.recordingID) != nil
        }
        guard !alreadyQueued else { return }
        pool.submit { [self] state in
            guard case .active = state else { return }
            guard let latest = pending.withLockedValue({ $0.removeValue(forKey: record.recordingID) }) else { return }
            store(latest)
        }
    }

    /// Whether records can be written now: the server refuses new calls (503) while not.
    var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    /// After a failure, tries a small write on the writer's thread to learn whether storage is
    /// back (disk space freed, folder repaired). At most one probe is queued at a time.
    func probe() {
        guard !isHealthy, probing.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        pool.submit { [self] state in
            defer { probing.store(false, ordering: .relaxed) }
            guard case .active = state, Self.canWrite(in: root) else { return }
            if !healthy.exchange(true, ordering: .relaxed) { logger.notice("recording records can be written again") }
        }
    }

    private func store(_ record: RecordingRecord) {
        let url = root.appendingPathComponent(Self.relativePath(of: record))
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Self.encoder.encode(record).write(to: url, options: .atomic)
            healthy.store(true, ordering: .relaxed)
        } catch {
            failures.increment()
            healthy.store(false, ordering: .relaxed)
            logger.error("recording record not written", metadata: ["recording": "\(record.recordingID)", "error": "\(error)"])
        }
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Returns once everything queued before the call has been written (the pool's one thread
    /// runs work in order).
    func drain() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            pool.submit { _ in continuation.resume() }
        }
    }

    /// Waits for every queued write, then stops the thread.
    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}
