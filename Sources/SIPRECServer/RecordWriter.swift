import Atomics
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Appends each recording's record, as one line of JSON, to the journal of the day it started:
/// `<data-dir>/recordings/YYYY/MM/DD/records.jsonl` (UTC). Every line is the whole record at
/// that moment, so the last line of a recording id is its current state. Runs on a thread of
/// its own, never on the SIP event loop.
///
/// Records are written in batches every `flushInterval` (the flush interval: a crash loses at
/// most that much), and writes of one recording are coalesced: when a newer state arrives
/// before the older one was written, only the newer one is, so a short call costs one line. `decisions/0007-records-as-json-until-the-catalog.md` says
/// why a journal rather than a file per recording.
final class RecordWriter: Sendable {
    let root: URL
    private let pool: NIOThreadPool
    private let logger: Logger
    private let flushInterval: Duration
    private let flushTick: NIOLockedValueBox<RepeatedTask?> = NIOLockedValueBox(nil)
    /// Sessions whose record changed since the last flush; their records are derived and
    /// encoded here, on the writer's thread.
    private let pending = NIOLockedValueBox<[String: RecordingSession]>([:])
    /// Open journals by path (only the writer's thread uses them); at most a few days at once.
    private let journals = NIOLockedValueBox<[Int64: Int32]>([:])
    private let failures = Counter(label: "siprecd_record_write_failures_total")
    /// False from a failed write until a write or a probe succeeds again.
    private let healthy = ManagedAtomic<Bool>(true)
    private let probing = ManagedAtomic<Bool>(false)
    /// Told which journals (relative paths) each flush appended to: the catalog ingest.
    let appendListener = NIOLockedValueBox<(@Sendable ([String]) -> Void)?>(nil)

    static let journalName = "records.jsonl"

    struct WriteError: Error, CustomStringConvertible {
        var operation: String
        var errno: Int32
        var description: String { "\(operation): \(String(cString: strerror(errno)))" }
    }

    init(dataDirectory: String, logger: Logger, flushInterval: Duration = .seconds(1)) {
        root = URL(fileURLWithPath: dataDirectory).appendingPathComponent("recordings")
        self.logger = logger
        self.flushInterval = flushInterval
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let interval = TimeAmount.nanoseconds(flushInterval.nanosecondsValue)
        let tick = MultiThreadedEventLoopGroup.singleton.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            self?.flushPending()
        }
        flushTick.withLockedValue { $0 = tick }
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
            try Data("ok".utf8).write(to: url)
            try FileManager.default.removeItem(at: url)
            return true
        } catch {
            return false
        }
    }

    /// `YYYY/MM/DD/records.jsonl` for the UTC day the recording started.
    static func relativePath(of record: RecordingRecord) -> String {
        relativePath(day: dayNumber(record.startedAt))
    }

    static func dayNumber(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    static func relativePath(day: Int64) -> String {
        let (year, month, dayOfMonth) = JSONLineWriter.civilDate(daysSinceEpoch: day)
        func padded(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(padded(year, 4))/\(padded(month, 2))/\(padded(dayOfMonth, 2))/\(journalName)"
    }

    /// The last record of a recording in the journal of the day it started (or, without a
    /// start, of today and the two days before): for crash recovery, before calls arrive.
    func lastRecord(recordingID: String, startedAt: Date?) -> RecordingRecord? {
        let today = Self.dayNumber(Date())
        let days = startedAt.map { [Self.dayNumber($0)] } ?? [today, today - 1, today - 2]
        let needle = Array("{\"recordingID\":\"\(recordingID)\"".utf8)
        for day in days {
            guard let data = FileManager.default.contents(atPath: root.appendingPathComponent(Self.relativePath(day: day)).path) else { continue }
            let bytes = [UInt8](data)
            var lastLine: ArraySlice<UInt8>?
            var start = 0
            while start < bytes.count {
                let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
                let line = bytes[start..<end]
                if line.starts(with: needle) { lastLine = line }
                start = end + 1
            }
            if let lastLine, let record = try? Self.decoder.decode(RecordingRecord.self, from: Data(lastLine)) { return record }
        }
        return nil
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            guard let date = formatter.date(from: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 date: \(text)"))
            }
            return date
        }
        return decoder
    }

    /// Whether records can be written now: the server refuses new calls (503) while not.
    var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    /// Queues the record's latest state; the flush tick writes it (at most `flushInterval` later).
    /// Nothing here wakes the writer's thread: at thousands of calls a second a wake-up per
    /// record cost more than the writing.
    func write(_ session: RecordingSession) {
        pending.withLockedValue { $0[session.state.recordingID] = session }
    }

    /// Writes every waiting record; the flush tick calls it every `flushInterval`.
    private func flushPending() {
        pool.submit { [self] state in
            guard case .active = state else { return }
            storeAllPending()
        }
    }

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

    /// Appends every waiting record: the lines of one day's journal in one write.
    private func storeAllPending() {
        let sessions = pending.withLockedValue { queue in
            defer { queue.removeAll(keepingCapacity: true) }
            return Array(queue.values)
        }
        guard !sessions.isEmpty else { return }
        var byDay: [Int64: [UInt8]] = [:]
        var sessionsByDay: [Int64: [RecordingSession]] = [:]
        for session in sessions.sorted(by: { $0.state.startedAt < $1.state.startedAt }) {
            let record = session.record
            let day = Self.dayNumber(record.startedAt)
            byDay[day, default: []].append(contentsOf: record.jsonLine())
            byDay[day, default: []].append(0x0A)
            sessionsByDay[day, default: []].append(session)
        }
        var appended: [String] = []
        defer {
            if !appended.isEmpty, let listener = appendListener.withLockedValue({ $0 }) { listener(appended) }
        }
        for (day, lines) in byDay {
            do {
                let fd = try journal(day: day)
                // O_APPEND: the batch lands after what is there; a crash can only cut the last
                // line short (a reader skips a line that does not parse).
                let written = lines.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                guard written == lines.count else {
                    let code = errno
                    closeJournal(day: day)
                    throw WriteError(operation: "append", errno: written < 0 ? code : ENOSPC)
                }
                healthy.store(true, ordering: .relaxed)
                appended.append(Self.relativePath(day: day))
            } catch {
                // Kept for the next flush (unless a newer state came meanwhile): a record is
                // never dropped because storage failed for a while.
                let unwritten = sessionsByDay[day] ?? []
                pending.withLockedValue { queue in
                    for session in unwritten where queue[session.state.recordingID] == nil {
                        queue[session.state.recordingID] = session
                    }
                }
                failures.increment(by: unwritten.count)
                healthy.store(false, ordering: .relaxed)
                logger.error("recording records not written, kept for the next attempt", metadata: ["records": "\(unwritten.count)", "error": "\(error)"])
            }
        }
    }

    private func journal(day: Int64) throws -> Int32 {
        if let fd = journals.withLockedValue({ $0[day] }) { return fd }
        let url = root.appendingPathComponent(Self.relativePath(day: day))
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(url.path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw WriteError(operation: "open", errno: errno) }
        // A line cut short earlier (crash, disk full) is ended first, so the next one stays whole.
        var last: UInt8 = 0
        let size = lseek(fd, 0, SEEK_END)
        if size > 0, pread(fd, &last, 1, size - 1) == 1, last != 0x0A {
            var newline: UInt8 = 0x0A
            guard Glibc.write(fd, &newline, 1) == 1 else {
                let code = errno
                close(fd)
                throw WriteError(operation: "append", errno: code)
            }
        }
        journals.withLockedValue { open in
            // Recordings that started on older days are rare after a few days: keep a handful.
            if open.count >= 4, let oldest = open.keys.min() {
                close(open[oldest] ?? -1)
                open[oldest] = nil
            }
            open[day] = fd
        }
        return fd
    }

    private func closeJournal(day: Int64) {
        journals.withLockedValue { open in
            if let fd = open.removeValue(forKey: day) { close(fd) }
        }
    }

    /// Writes every record still waiting (delayed or queued) and returns once that is done
    /// (the pool's one thread runs work in order).
    func drain() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            pool.submit { [self] _ in
                storeAllPending()
                continuation.resume()
            }
        }
    }

    /// Writes every record still waiting, closes the journals, then stops the thread.
    func shutdown() async {
        flushTick.withLockedValue { $0?.cancel() }
        await drain()
        journals.withLockedValue { open in
            for fd in open.values { close(fd) }
            open.removeAll()
        }
        try? await pool.shutdownGracefully()
    }
}
