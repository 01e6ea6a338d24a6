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

    init(dataDirectory: String, logger: Logger) {
        root = URL(fileURLWithPath: dataDirectory).appendingPathComponent("recordings")
        self.logger = logger
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
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

    private func store(_ record: RecordingRecord) {
        let url = root.appendingPathComponent(Self.relativePath(of: record))
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Self.encoder.encode(record).write(to: url, options: .atomic)
        } catch {
            failures.increment()
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

    /// Waits for every queued write, then stops the thread.
    func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}
