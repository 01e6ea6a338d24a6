import Foundation
import Logging

/// Carries the records journal (`<data-dir>/recordings/YYYY/MM/DD/records.jsonl`, decision
/// 0007) into the catalog, in order, exactly once: each batch of lines is applied together
/// with the journal position it reaches, in one transaction (`RecordingCatalog.apply`). When
/// the database is down the journal simply grows, and this catches up when it returns; the
/// recorder never waits for the database.
///
/// One task (`run`) does all the work, so passes never overlap. The record writer says which
/// journals it appended to (`noteAppended`); a pass reads only those, except the first, which
/// looks at every journal against the positions the catalog has.
public final class JournalIngestor: @unchecked Sendable {
    public struct Statistics: Sendable, Equatable {
        /// Lines applied since start.
        public var linesApplied: Int = 0
        /// Lines that were not records (cut short by a crash), skipped.
        public var linesSkipped: Int = 0
        public var batchesFailed: Int = 0
        /// Bytes of journal not yet in the catalog (the journal's depth).
        public var backlogBytes: Int64 = 0
        /// True from a failed batch until a batch succeeds.
        public var failing: Bool = false
    }

    public let root: URL
    /// Names this node's journals in the catalog's positions (nodes may share a PostgreSQL).
    public let node: String
    /// What this ingest feeds, for its log lines (`catalog`, `webhooks`).
    public let name: String
    private let catalog: any JournalSink
    private let logger: Logger
    private let maxBatchBytes: Int
    private let retryDelays: [Duration]

    private let lock = NSLock()
    private var dirty: Set<String> = []
    private var scanAll = true
    private var waiters: [CheckedContinuation<Statistics, Never>] = []
    private var wake: AsyncStream<Void>.Continuation?
    private let wakeStream: AsyncStream<Void>
    private var statistics = Statistics()
    private var finished = false
    /// Positions known to be in the catalog (loaded at the first pass).
    private var positions: [String: Int64]?

    public static let journalName = "records.jsonl"

    public init(recordsFolder: URL, node: String, catalog: any JournalSink, logger: Logger,
                name: String = "catalog", maxBatchBytes: Int = 4 << 20,
                retryDelays: [Duration] = [.milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10)]) {
        root = recordsFolder
        self.node = node
        self.name = name
        self.catalog = catalog
        self.logger = logger
        self.maxBatchBytes = maxBatchBytes
        self.retryDelays = retryDelays
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wakeStream = stream
        wake = continuation
    }

    /// The record writer appended to these journals (paths relative to the records folder).
    public func noteAppended(_ paths: [String]) {
        lock.withLock { dirty.formUnion(paths) }
        wake?.yield()
    }

    public var currentStatistics: Statistics { lock.withLock { statistics } }

    /// Returns after a pass that started after this call: everything journaled before it is in
    /// the catalog, unless the catalog is failing (`failing` in the result says so).
    public func catchUp() async -> Statistics {
        await withCheckedContinuation { continuation in
            lock.withLock {
                waiters.append(continuation)
                scanAll = true
            }
            wake?.yield()
        }
    }

    /// Runs passes until the task is cancelled or `finish()` is called; after a failure, retries
    /// with growing delays (the journal keeps everything meanwhile).
    public func run() async {
        var failures = 0
        var iterator = wakeStream.makeAsyncIterator()
        while true {
            let waiting = lock.withLock { () -> [CheckedContinuation<Statistics, Never>] in
                defer { waiters.removeAll() }
                return waiters
            }
            let ok = await pass()
            let stats = currentStatistics
            for waiter in waiting { waiter.resume(returning: stats) }
            if ok {
                if failures > 0 { logger.notice("\(name) reachable again: journal caught up", metadata: ["lines": "\(stats.linesApplied)"]) }
                failures = 0
                if await iterator.next() == nil { break }
            } else {
                // Asked to end while failing: what is not applied stays in the journal.
                if lock.withLock({ finished }) { break }
                let delay = retryDelays[min(failures, retryDelays.count - 1)]
                failures += 1
                // Woken early by a catch-up request; an append alone waits for the delay.
                let deadline = ContinuousClock.now + delay
                while ContinuousClock.now < deadline {
                    if lock.withLock({ !waiters.isEmpty || finished }) { break }
                    try? await Task.sleep(for: .milliseconds(50))
                    if Task.isCancelled { break }
                }
                if Task.isCancelled { break }
            }
        }
        let remaining = lock.withLock { () -> [CheckedContinuation<Statistics, Never>] in
            defer { waiters.removeAll() }
            return waiters
        }
        let stats = currentStatistics
        for waiter in remaining { waiter.resume(returning: stats) }
    }

    /// Ends `run` after the pass in progress (pending catch-ups are answered first).
    public func finish() {
        lock.withLock { finished = true }
        wake?.finish()
    }

    /// One pass over the journals that changed. False when the catalog refused a batch.
    func pass() async -> Bool {
        do {
            if positions == nil { positions = try await catalog.journalPositions() }
        } catch {
            noteFailure(error)
            return false
        }
        let (all, named) = lock.withLock { () -> (Bool, Set<String>) in
            defer {
                dirty.removeAll()
                scanAll = false
            }
            return (scanAll, dirty)
        }
        var paths = named
        if all { paths.formUnion(Self.journals(under: root)) }
        var ok = true
        var backlog: Int64 = 0
        for path in paths.sorted() {
            if !ok {
                lock.withLock { _ = dirty.insert(path) }
                continue
            }
            do {
                try await ingest(path: path)
            } catch {
                noteFailure(error)
                lock.withLock { _ = dirty.insert(path) }
                ok = false
            }
        }
        if ok {
            lock.withLock { statistics.failing = false }
        } else {
            // A later pass must look at every journal again: appends noted meanwhile are kept
            // in `dirty`, but a pass that failed halfway may have skipped some.
            lock.withLock { scanAll = true }
        }
        for path in Self.journals(under: root) {
            let size = Self.size(of: root.appendingPathComponent(path))
            backlog += max(0, size - (positions?[key(path)] ?? 0))
        }
        lock.withLock { statistics.backlogBytes = backlog }
        return ok
    }

    private func noteFailure(_ error: any Error) {
        let first = lock.withLock { () -> Bool in
            statistics.batchesFailed += 1
            defer { statistics.failing = true }
            return !statistics.failing
        }
        if first {
            logger.error("\(name) unreachable: records stay in the journal and are applied when it returns", metadata: ["error": "\(error)"])
        } else {
            logger.debug("\(name) still unreachable", metadata: ["error": "\(error)"])
        }
    }

    /// Applies a journal from its known position to its last complete line, in batches.
    private func ingest(path: String) async throws {
        let url = root.appendingPathComponent(path)
        guard let handle = try? FileHandle(forReadingFrom: url) else { return }
        defer { try? handle.close() }
        var offset = positions?[key(path)] ?? 0
        let decoder = CatalogEntry.makeDecoder()
        while true {
            try handle.seek(toOffset: UInt64(offset))
            guard let chunk = try handle.read(upToCount: maxBatchBytes), !chunk.isEmpty else { return }
            let bytes = [UInt8](chunk)
            guard let lastNewline = bytes.lastIndex(of: 0x0A) else {
                // A single line longer than a batch: read it whole.
                if bytes.count == maxBatchBytes,
                   try await ingestLongLine(handle: handle, path: path, offset: &offset, decoder: decoder) {
                    continue
                }
                // The rest is a line still being written.
                return
            }
            var entries: [CatalogEntry] = []
            var indexByID: [String: Int] = [:]
            var skipped = 0
            var lines = 0
            var start = 0
            while start <= lastNewline {
                let end = bytes[start...lastNewline].firstIndex(of: 0x0A) ?? lastNewline
                if end > start {
                    lines += 1
                    do {
                        let entry = try CatalogEntry(journalLine: bytes[start..<end], decoder: decoder)
                        if let index = indexByID[entry.id] {
                            entries[index] = entry
                        } else {
                            indexByID[entry.id] = entries.count
                            entries.append(entry)
                        }
                    } catch {
                        skipped += 1
                    }
                }
                start = end + 1
            }
            let newOffset = offset + Int64(lastNewline + 1)
            try await catalog.apply(entries, positions: [JournalPosition(path: key(path), offset: newOffset)])
            offset = newOffset
            positions?[key(path)] = newOffset
            lock.withLock {
                statistics.linesApplied += lines - skipped
                statistics.linesSkipped += skipped
            }
            if skipped > 0 {
                logger.warning("journal lines that are not records were skipped", metadata: ["journal": "\(path)", "lines": "\(skipped)"])
            }
            if bytes.count < maxBatchBytes { return }
        }
    }

    /// False when the line has no end yet (still being written).
    private func ingestLongLine(handle: FileHandle, path: String, offset: inout Int64, decoder: JSONDecoder) async throws -> Bool {
        try handle.seek(toOffset: UInt64(offset))
        var line: [UInt8] = []
        while true {
            guard let chunk = try handle.read(upToCount: maxBatchBytes), !chunk.isEmpty else { return false }
            if let newline = chunk.firstIndex(of: 0x0A) {
                line.append(contentsOf: chunk[chunk.startIndex..<newline])
                break
            }
            line.append(contentsOf: chunk)
        }
        let entry = try? CatalogEntry(journalLine: line, decoder: decoder)
        let newOffset = offset + Int64(line.count + 1)
        try await catalog.apply(entry.map { [$0] } ?? [], positions: [JournalPosition(path: key(path), offset: newOffset)])
        offset = newOffset
        positions?[key(path)] = newOffset
        lock.withLock {
            if entry == nil { statistics.linesSkipped += 1 } else { statistics.linesApplied += 1 }
        }
        return true
    }

    /// The catalog's name for a journal of this node.
    private func key(_ path: String) -> String { "\(node)/\(path)" }

    /// Every `YYYY/MM/DD/records.jsonl` under the records folder.
    static func journals(under root: URL) -> [String] {
        var found: [String] = []
        let manager = FileManager.default
        for year in (try? manager.contentsOfDirectory(atPath: root.path)) ?? [] where year.count == 4 && Int(year) != nil {
            let yearURL = root.appendingPathComponent(year)
            for month in (try? manager.contentsOfDirectory(atPath: yearURL.path)) ?? [] where month.count == 2 && Int(month) != nil {
                let monthURL = yearURL.appendingPathComponent(month)
                for day in (try? manager.contentsOfDirectory(atPath: monthURL.path)) ?? [] where day.count == 2 && Int(day) != nil {
                    let path = "\(year)/\(month)/\(day)/\(journalName)"
                    if manager.fileExists(atPath: root.appendingPathComponent(path).path) { found.append(path) }
                }
            }
        }
        return found.sorted()
    }

    static func size(of url: URL) -> Int64 {
        var info = stat()
        guard stat(url.path, &info) == 0 else { return 0 }
        return Int64(info.st_size)
    }
}
