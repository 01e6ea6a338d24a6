import CMediaIO
import Foundation
import Logging
import Media
#if canImport(Glibc)
import Glibc
#endif

/// The two-phase store: while a call is live its audio is appended to `<spool>/<id>.wav` by
/// this writer's own thread (never an event loop); when the call ends the file gets its real
/// sizes, is synced, hashed (SHA-256) and renamed into the archive under the name template.
/// If the archive cannot take it the file stays in the spool, the outcome says so, and the
/// move is retried with backoff until it succeeds. A file is created at the first audio (a
/// call with no media leaves no file); until then the call is known to a recovery from the
/// spool's start log (`SpoolStartLog`). A write that fails (disk full) stops that file where it
/// was; what it holds stays valid.
public final class SpoolWriter: AudioSink, @unchecked Sendable {
    public struct Settings: Sendable {
        public var spoolDirectory: String
        public var archiveDirectory: String
        public var template: ArchiveTemplate = .default
        /// The archived file's format; anything but WAV PCM is converted when the call ends.
        public var format: AudioFormat = .wav
        /// One file per stream: a finished file of several channels is split into mono files,
        /// each archived with `-<channel>` before its extension.
        public var splitChannels = false
        public var sampleRate = 8000
        /// Below this much free space in the spool, `healthy` is false (new calls get 503);
        /// the same minimum holds for the archive (`archiveHasSpace`).
        public var minimumFreeBytes: UInt64 = 256 * 1024 * 1024
        public var retryFirst: Duration = .seconds(2)
        public var retryMax: Duration = .seconds(300)
        public init(spoolDirectory: String, archiveDirectory: String) {
            self.spoolDirectory = spoolDirectory
            self.archiveDirectory = archiveDirectory
        }
    }

    public struct Outcome: Sendable, Equatable {
        public enum Location: String, Sendable { case spool, archive }
        public var recordingID: String
        /// nil: no audio was ever received, so there is no file.
        public var location: Location?
        public var path: String?
        public var bytes: Int = 0
        public var sha256: String?
        public var channels: Int
        public var sampleRate: Int
        public var format: AudioFormat = .wav
        /// Which channel of the call's file this is, when files are split per stream.
        public var channel: Int?
        /// How many files the recording has (the channels, when split).
        public var parts = 1
        public var audioSeconds: Double = 0
        /// What went wrong on the way (a failed write, an archive that refused the file).
        public var problem: String?
    }

    private enum Operation {
        case begin(id: String, info: WAVFile.Info, channels: Int)
        case audio(id: String, chunk: CaptureRecording.Chunk)
        case finish(id: String, parties: [String], completion: @Sendable (Outcome) -> Void)
    }

    private final class Entry {
        var info: WAVFile.Info
        let channels: Int
        var fd: Int32 = -1
        var path: String
        var length = 0
        var layout: WAVFile.Layout?
        var problem: String?
        /// Whether any audio follows the header (a call that never sent media leaves no file).
        var hasAudio = false
        init(info: WAVFile.Info, channels: Int, path: String) {
            self.info = info
            self.channels = channels
            self.path = path
        }
    }

    private struct Retry {
        var outcome: Outcome
        var info: WAVFile.Info
        var attempt: Int
        var due: UInt64
        var completion: @Sendable (Outcome) -> Void
    }

    public let settings: Settings
    private let logger: Logger
    private let condition = NSCondition()
    private var queue: [Operation] = []
    private var stopping = false
    private var thread: Thread?
    private let stopped = DispatchSemaphore(value: 0)
    private var lowSpace = false
    private var archiveLowSpace = false
    private var writeFailing = false

    // Writer thread only.
    private var entries: [String: Entry] = [:]
    /// The start log's file (opened at the first line), its size, and the lines of this batch
    /// not written yet: a call that begins and ends within one batch writes neither line.
    private var startLog: Int32 = -1
    private var startLogBytes = 0
    private var pendingLog: [String?] = []
    private var pendingBegins: [String: Int] = [:]
    /// A write to the log failed: lines are missing from it, so the next flush writes it anew
    /// from the calls in progress.
    private var startLogBroken = false
    /// The start log is rewritten with only the calls in progress when it grows past this
    /// (or past a few lines per call in progress, when there are many).
    static let startLogRewriteBytes = 4 << 20
    private var retries: [Retry] = []
    private var nextSpaceCheck: UInt64 = 0

    public init(settings: Settings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        try FileManager.default.createDirectory(atPath: settings.spoolDirectory, withIntermediateDirectories: true)
        // Spare files an earlier version kept for reuse belong to no call.
        try? FileManager.default.removeItem(atPath: settings.spoolDirectory + "/.unused")
        lowSpace = Self.freeBytes(settings.spoolDirectory).map { $0 < settings.minimumFreeBytes } ?? false
    }

    /// False while the spool is short of space or its last write failed: new calls should be
    /// refused with 503 so the SRC records them elsewhere.
    public var healthy: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !lowSpace && !writeFailing
    }

    /// False while the archive's file system is short of space. An archive folder that does
    /// not exist yet (created by the first move) or cannot be read counts as having space:
    /// the spool keeps the files and the moves are retried.
    public var archiveHasSpace: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !archiveLowSpace
    }

    /// Files and bytes waiting in the spool for the archive (retries).
    public var pendingArchiveMoves: Int {
        condition.lock()
        defer { condition.unlock() }
        return retryCount
    }
    private var retryCount = 0
    /// The writer waits without a deadline of its own (no calls in progress): an operation must
    /// signal it. Under `condition`.
    private var writerIdle = true

    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = "siprecd-spool"
        self.thread = thread
        thread.start()
    }

    /// Finishes queued work, then ends the thread (files still open are finished and moved).
    public func stop() {
        condition.lock()
        let running = thread != nil && !stopping
        stopping = true
        condition.signal()
        condition.unlock()
        if running { stopped.wait() }
    }

    public func begin(recordingID: String, startedAt: Date, callID: String, channels: Int, parties: [String] = []) {
        enqueue(.begin(id: recordingID, info: WAVFile.Info(recordingID: recordingID, startedAt: startedAt, callID: callID,
                                                           parties: parties.isEmpty ? nil : parties), channels: channels))
    }

    public func audio(recordingID: String, chunk: CaptureRecording.Chunk, channels: Int) {
        enqueue(.audio(id: recordingID, chunk: chunk))
    }

    /// Completes the file; `completion` runs on the writer's thread, once with the file in
    /// the archive (or with no file), or first in the spool and again when a retry moves it.
    /// `parties`: who was on the call by the end (caller first), for the archive name.
    public func finish(recordingID: String, parties: [String] = [], completion: @escaping @Sendable (Outcome) -> Void) {
        enqueue(.finish(id: recordingID, parties: parties, completion: completion))
    }

    private func enqueue(_ operation: Operation) {
        condition.lock()
        // The writer takes the whole queue each time it wakes. While it has calls in progress it
        // wakes every few milliseconds on its own (`busyInterval`), so only an idle writer
        // needs a signal: thousands of calls a second would otherwise cost a futex wake and a
        // context switch each.
        let wake = writerIdle && queue.isEmpty
        queue.append(operation)
        if wake { condition.signal() }
        condition.unlock()
    }

    /// How long work waits for a writer that has calls in progress.
    static let busyInterval = 0.005

    // MARK: - The writer thread

    private func run() {
        while true {
            condition.lock()
            // Wake for work, the next retry, or at the latest after a second: the space and
            // write-health checks must run while idle too (an unhealthy spool gets no calls).
            if queue.isEmpty && !stopping {
                let now = mio_monotonic_ns()
                let nextRetry = retries.map(\.due).min().map { $0 > now ? Double($0 - now) / 1e9 : 0 }
                writerIdle = entries.isEmpty
                let wait = min(writerIdle ? 1.0 : Self.busyInterval, nextRetry ?? 1.0)
                if wait > 0 { _ = condition.wait(until: Date(timeIntervalSinceNow: wait)) }
                writerIdle = false
            }
            let work = queue
            queue.removeAll(keepingCapacity: true)
            let stop = stopping
            condition.unlock()
            for operation in work { perform(operation) }
            flushStartLog()
            runRetries(force: false)
            checkSpace()
            if stop && work.isEmpty { break }
        }
        for (id, _) in entries { complete(id, completion: { _ in }) }
        flushStartLog()
        if startLog >= 0 {
            close(startLog)
            startLog = -1
            // Nothing in progress: a clean stop leaves no log for the next start to read.
            _ = unlink(startLogPath)
        }
        stopped.signal()
    }

    private func perform(_ operation: Operation) {
        switch operation {
        case let .begin(id, info, channels):
            let path = settings.spoolDirectory + "/" + ArchiveTemplate.clean(id) + ".wav"
            let entry = Entry(info: info, channels: channels, path: path)
            entries[id] = entry
            // The call's id, start and Call-ID go to the start log with this batch: a crash
            // before the first audio (or before the call's record reached the journal) still
            // leaves the call known to the recovery. Its file is made at the first audio.
            pendingBegins[id] = pendingLog.count
            pendingLog.append(SpoolStartLog.beginLine(.init(info: info, channels: channels)))
        case let .audio(id, chunk):
            guard let entry = entries[id], entry.problem == nil else { return }
            write(chunk, to: entry)
        case let .finish(id, parties, completion):
            if !parties.isEmpty { entries[id]?.info.parties = parties }
            complete(id, completion: completion)
        }
    }

    private var startLogPath: String { settings.spoolDirectory + "/" + SpoolStartLog.fileName }

    /// The call's end, for the start log (dropped with its beginning when both are unwritten).
    private func noteEnd(_ id: String) {
        if let index = pendingBegins.removeValue(forKey: id) {
            pendingLog[index] = nil
        } else {
            pendingLog.append(SpoolStartLog.endLine(id))
        }
    }

    /// Appends this batch's lines to the start log in one write; rewrites the log with only
    /// the calls in progress when it has grown large.
    private func flushStartLog() {
        defer {
            pendingLog.removeAll(keepingCapacity: true)
            pendingBegins.removeAll(keepingCapacity: true)
        }
        if startLogBroken { return rewriteStartLog() }
        var bytes: [UInt8] = []
        for case let line? in pendingLog { bytes.append(contentsOf: line.utf8) }
        guard !bytes.isEmpty else { return }
        if startLog < 0 {
            startLog = open(startLogPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            var status = stat()
            startLogBytes = startLog >= 0 && fstat(startLog, &status) == 0 ? Int(status.st_size) : 0
        }
        guard startLog >= 0, writeAll(startLog, bytes) else {
            return failStartLog("spool start log could not be written: \(String(cString: strerror(errno)))")
        }
        startLogBytes += bytes.count
        if startLogBytes > max(Self.startLogRewriteBytes, entries.count * 512) { rewriteStartLog() }
    }

    /// A new log with a line per call in progress, renamed over the old one (a crash on the way
    /// leaves the old one, which says the same and more).
    private func rewriteStartLog() {
        let temporary = startLogPath + ".new"
        var bytes: [UInt8] = []
        for entry in entries.values {
            bytes.append(contentsOf: SpoolStartLog.beginLine(.init(info: entry.info, channels: entry.channels)).utf8)
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return failStartLog("spool start log could not be rewritten: \(String(cString: strerror(errno)))") }
        let written = writeAll(fd, bytes)
        close(fd)
        guard written, rename(temporary, startLogPath) == 0 else {
            _ = unlink(temporary)
            return failStartLog("spool start log could not be rewritten: \(String(cString: strerror(errno)))")
        }
        if startLog >= 0 { close(startLog) }
        startLog = open(startLogPath, O_WRONLY | O_APPEND | O_CLOEXEC)
        startLogBytes = bytes.count
        startLogBroken = false
    }

    /// New calls get 503 (the spool is unhealthy) until the spool can be written; the log is
    /// written anew, whole, at the next flush.
    private func failStartLog(_ problem: String) {
        if !startLogBroken { logger.error("spool start log failed: new calls get 503 until the spool can be written", metadata: ["error": "\(problem)"]) }
        startLogBroken = true
        condition.lock(); writeFailing = true; condition.unlock()
    }

    /// Creates the spool file with its header (once), at the call's first audio.
    private func createFile(_ entry: Entry) {
        guard entry.fd < 0, entry.problem == nil else { return }
        let fd = open(entry.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return fail(entry, "spool file could not be created: \(String(cString: strerror(errno)))") }
        entry.fd = fd
        let header = WAVFile.header(channels: entry.channels, sampleRate: settings.sampleRate, info: entry.info)
        guard writeAll(fd, header) else { return fail(entry, "spool write failed: \(String(cString: strerror(errno)))") }
        entry.length = header.count
        entry.layout = try? WAVFile.layout(of: header)
    }

    private func write(_ chunk: CaptureRecording.Chunk, to entry: Entry) {
        if entry.fd < 0 {
            createFile(entry)
            guard entry.fd >= 0, entry.problem == nil else { return }
        }
        entry.hasAudio = true
        if chunk.leadingSilenceFrames > 0 {
            var remaining = Int(chunk.leadingSilenceFrames) * entry.channels * 2
            let zeros = [UInt8](repeating: 0, count: min(remaining, 64 * 1024))
            while remaining > 0 {
                let count = min(remaining, zeros.count)
                guard zeros.withUnsafeBytes({ writeAll(entry.fd, UnsafeRawBufferPointer(rebasing: $0[0..<count])) }) else {
                    return fail(entry, "spool write failed: \(String(cString: strerror(errno)))")
                }
                entry.length += count
                remaining -= count
            }
        }
        // Little-endian 16-bit samples are the machine's own layout on the platforms we run.
        let ok = chunk.samples.withUnsafeBytes { writeAll(entry.fd, $0) }
        guard ok else { return fail(entry, "spool write failed: \(String(cString: strerror(errno)))") }
        entry.length += chunk.samples.count * 2
        if writeFailing {
            condition.lock(); writeFailing = false; condition.unlock()
        }
    }

    /// The first bytes of a spare file an earlier version kept for reuse (where a WAV has
    /// `RIFF`): a recovery that finds one under a call's name drops it.
    static let spareMark = Array("SPAR".utf8)

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }

    private func fail(_ entry: Entry, _ problem: String) {
        entry.problem = problem
        logger.error("recording audio write failed; the file keeps what it has", metadata: ["recording": "\(entry.info.recordingID)", "error": "\(problem)"])
        condition.lock(); writeFailing = true; condition.unlock()
    }

    private func complete(_ id: String, completion: @escaping @Sendable (Outcome) -> Void) {
        guard let entry = entries.removeValue(forKey: id) else {
            return completion(Outcome(recordingID: id, location: nil, channels: 0, sampleRate: settings.sampleRate, problem: "unknown recording"))
        }
        noteEnd(id)
        // A call whose file leaves the spool has its end in the log first: a crash after the
        // move must not leave the log saying the call was still in progress.
        if entry.fd >= 0 { flushStartLog() }
        var outcome = Outcome(recordingID: id, location: nil, channels: entry.channels, sampleRate: settings.sampleRate, problem: entry.problem)
        guard entry.fd >= 0, let layout = entry.layout, entry.hasAudio else {
            // A file whose header never made it, or with no audio after it, holds nothing.
            if entry.fd >= 0 {
                close(entry.fd)
                _ = unlink(entry.path)
            }
            return completion(outcome)
        }
        do {
            // A failed write may have left part of a chunk: the real length is the file's.
            var status = stat()
            let length = fstat(entry.fd, &status) == 0 ? Int(status.st_size) : entry.length
            let final = try WAVFile.finalize(fd: entry.fd, layout: layout, fileLength: length)
            _ = fsync(entry.fd)
            outcome.bytes = final
            outcome.audioSeconds = Double(final - layout.dataOffset) / Double(layout.blockAlign * layout.sampleRate)
        } catch {
            outcome.problem = outcome.problem ?? "the file's header could not be completed: \(error)"
        }
        close(entry.fd)
        outcome.location = .spool
        outcome.path = entry.path
        for (part, info) in splitIfWanted(outcome, info: entry.info, layout: layout) {
            var part = part
            convert(&part, info: info)
            part.sha256 = part.path.flatMap(Self.sha256)
            archive(part, info: info, attempt: 0, completion: completion)
        }
    }

    /// The file as it is, or (one file per stream) a mono file per channel, the original gone.
    /// A split that fails keeps the whole file and says why.
    private func splitIfWanted(_ outcome: Outcome, info: WAVFile.Info, layout: WAVFile.Layout) -> [(Outcome, WAVFile.Info)] {
        guard settings.splitChannels, layout.channels > 1, let path = outcome.path else { return [(outcome, info)] }
        do {
            let parts = try Self.split(path, layout: layout, info: info)
            _ = unlink(path)
            return parts.map { channel, partPath, bytes in
                var part = outcome
                part.path = partPath
                part.channels = 1
                part.channel = channel
                part.parts = layout.channels
                part.bytes = bytes
                var partInfo = info
                partInfo.channel = channel
                return (part, partInfo)
            }
        } catch {
            var whole = outcome
            whole.problem = whole.problem ?? "splitting into one file per stream failed (kept whole): \(error)"
            return [(whole, info)]
        }
    }

    /// Writes `<spool>/<id>.ch<N>.wav` for each channel of a finished WAV; (channel, path, bytes).
    static func split(_ path: String, layout: WAVFile.Layout, info: WAVFile.Info) throws -> [(Int, String, Int)] {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(input) }
        let base = (path as NSString).deletingPathExtension
        var outputs: [(channel: Int, path: String, fd: Int32, header: Int)] = []
        defer { for output in outputs where output.fd >= 0 { close(output.fd) } }
        for channel in 0..<layout.channels {
            var partInfo = info
            partInfo.channel = channel
            let partPath = base + ".ch\(channel + 1).wav"
            let fd = open(partPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            let header = WAVFile.header(channels: 1, sampleRate: layout.sampleRate, info: partInfo)
            outputs.append((channel, partPath, fd, header.count))
            guard header.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == header.count else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        }
        let frames = 8192
        var interleaved = [Int16](repeating: 0, count: frames * layout.channels)
        var mono = [Int16](repeating: 0, count: frames)
        var offset = off_t(layout.dataOffset)
        while true {
            let got = interleaved.withUnsafeMutableBytes { pread(input, $0.baseAddress, $0.count, offset) }
            guard got > 0 else { break }
            offset += off_t(got)
            let count = got / (2 * layout.channels)
            for output in outputs {
                for frame in 0..<count { mono[frame] = interleaved[frame * layout.channels + output.channel] }
                let bytes = count * 2
                guard mono.withUnsafeBytes({ Glibc.write(output.fd, $0.baseAddress, bytes) }) == bytes else {
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
            }
        }
        var result: [(Int, String, Int)] = []
        for output in outputs {
            let partLayout = WAVFile.Layout(channels: 1, sampleRate: layout.sampleRate, bitsPerSample: 16, dataOffset: output.header, info: nil)
            let length = Int(lseek(output.fd, 0, SEEK_END))
            let final = try WAVFile.finalize(fd: output.fd, layout: partLayout, fileLength: length)
            _ = fsync(output.fd)
            result.append((output.channel, output.path, final))
        }
        return result
    }

    /// The finished WAV into the configured format, beside it in the spool (`.part` until it
    /// is whole), then the WAV goes. A conversion that fails keeps the WAV and says why.
    private func convert(_ outcome: inout Outcome, info: WAVFile.Info) {
        guard settings.format != .wav, let source = outcome.path else { return }
        let destination = Self.convertedName(outcome.recordingID, info: info, format: settings.format, in: settings.spoolDirectory)
        do {
            try settings.format.convert(wav: source, to: destination + ".part")
            guard rename(destination + ".part", destination) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            _ = unlink(source)
            var status = stat()
            outcome.bytes = stat(destination, &status) == 0 ? Int(status.st_size) : 0
            outcome.path = destination
            outcome.format = settings.format
        } catch {
            _ = unlink(destination + ".part")
            outcome.problem = outcome.problem ?? "conversion to \(settings.format.rawValue) failed (kept as WAV): \(error)"
            logger.error("recording could not be converted; kept as WAV", metadata: ["recording": "\(outcome.recordingID)", "error": "\(error)"])
        }
    }

    /// Moves a finished file into the archive, or schedules a retry and reports it in the spool.
    private func archive(_ spooled: Outcome, info: WAVFile.Info, attempt: Int, completion: @escaping @Sendable (Outcome) -> Void) {
        guard let source = spooled.path else { return completion(spooled) }
        let relative = settings.template.path(recordingID: info.recordingID, callID: info.callID, startedAt: info.startedAt, parties: info.parties ?? [])
        let part = info.channel.map { "-\($0 + 1)" } ?? ""
        let destination = settings.archiveDirectory + "/" + (relative as NSString).deletingPathExtension + part + "." + spooled.format.fileExtension
        do {
            try Self.move(source, to: destination)
            var moved = spooled
            moved.location = .archive
            moved.path = destination
            completion(moved)
        } catch {
            let delay = min(settings.retryMax.seconds, settings.retryFirst.seconds * pow(2, Double(min(attempt, 16))))
            logger.warning("recording could not be moved to the archive; retrying", metadata: [
                "recording": "\(info.recordingID)", "error": "\(error)", "retryInSeconds": "\(Int(delay))",
            ])
            // The retry is counted before anyone hears that the file waits in the spool.
            retries.append(Retry(outcome: spooled, info: info, attempt: attempt + 1,
                                 due: mio_monotonic_ns() + UInt64(delay * 1e9), completion: completion))
            condition.lock(); retryCount = retries.count; condition.unlock()
            if attempt == 0 {
                var waiting = spooled
                waiting.problem = "archive unavailable (\(error)); kept in the spool, retrying"
                completion(waiting)
            }
        }
    }

    private func runRetries(force: Bool) {
        guard !retries.isEmpty else { return }
        let now = mio_monotonic_ns()
        let due = retries.filter { force || $0.due <= now }
        retries.removeAll { force || $0.due <= now }
        condition.lock(); retryCount = retries.count; condition.unlock()
        for retry in due { archive(retry.outcome, info: retry.info, attempt: retry.attempt, completion: retry.completion) }
    }

    private func checkSpace() {
        let now = mio_monotonic_ns()
        guard now >= nextSpaceCheck else { return }
        nextSpaceCheck = now + 1_000_000_000
        condition.lock()
        let failing = writeFailing
        condition.unlock()
        // A broken start log is written anew by each flush; until one works the spool stays
        // unhealthy, whatever the probe says.
        if failing, !startLogBroken, Self.probe(settings.spoolDirectory) {
            // A failed write made new calls go elsewhere; a write works again, so they may come.
            condition.lock(); writeFailing = false; condition.unlock()
            logger.notice("spool writes work again", metadata: ["folder": "\(settings.spoolDirectory)"])
        }
        let low = Self.freeBytes(settings.spoolDirectory).map { $0 < settings.minimumFreeBytes } ?? false
        let archiveLow = Self.freeBytes(settings.archiveDirectory).map { $0 < settings.minimumFreeBytes } ?? false
        condition.lock()
        let changed = low != lowSpace
        let archiveChanged = archiveLow != archiveLowSpace
        lowSpace = low
        archiveLowSpace = archiveLow
        condition.unlock()
        if changed {
            if low { logger.error("spool is short of space: new calls get 503", metadata: ["folder": "\(settings.spoolDirectory)"]) }
            else { logger.notice("spool has space again", metadata: ["folder": "\(settings.spoolDirectory)"]) }
        }
        if archiveChanged {
            if archiveLow { logger.error("archive is short of space: new calls get 503", metadata: ["folder": "\(settings.archiveDirectory)"]) }
            else { logger.notice("archive has space again", metadata: ["folder": "\(settings.archiveDirectory)"]) }
        }
    }

    /// Whether a small file can be written and removed in the spool.
    static func probe(_ folder: String) -> Bool {
        let path = folder + "/.probe"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return false }
        let ok = Glibc.write(fd, "ok", 2) == 2
        close(fd)
        _ = unlink(path)
        return ok
    }

    static func freeBytes(_ path: String) -> UInt64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    public static func sha256(_ path: String) -> String? {
        var hex = [CChar](repeating: 0, count: 65)
        guard mio_sha256_file(path, &hex) == 0 else { return nil }
        return String(decoding: hex.prefix(64).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// rename(2) within a file system; across file systems a copy that is synced, renamed into
    /// place and only then removed from the spool, so no crash leaves the file in neither.
    static func move(_ source: String, to destination: String) throws {
        let folder = (destination as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if rename(source, destination) == 0 { return }
        guard errno == EXDEV else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let temporary = destination + ".part"
        _ = unlink(temporary)
        try FileManager.default.copyItem(atPath: source, toPath: temporary)
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
        guard rename(temporary, destination) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        _ = unlink(source)
    }

    // MARK: - Crash repair

    public struct Recovered: Sendable {
        public var info: WAVFile.Info?
        public var outcome: Outcome
        /// When the file was last written: the end of what was saved.
        public var lastWrite: Date
        /// A finished, converted file that only waited for the archive (not a cut-off call).
        public var converted = false
    }

    /// At start, before any call: every file left in the spool by a crash gets its real sizes
    /// (audio up to the last flush) and goes to the archive like a finished one. Files that
    /// are not ours are left where they are and reported.
    /// `laterMove` hears of files that stayed in the spool once a retry moves them.
    public func recoverSpool(laterMove: @escaping @Sendable (Outcome, WAVFile.Info) -> Void) -> [Recovered] {
        var names = (try? FileManager.default.contentsOfDirectory(atPath: settings.spoolDirectory)) ?? []
        names += filesForStartLog(names)
        var recovered: [Recovered] = []
        // Conversions a crash cut short: the WAV they came from is still there.
        for name in names where name.hasSuffix(".part") { _ = unlink(settings.spoolDirectory + "/" + name) }
        for name in names.sorted() where !name.hasSuffix(".wav") && !name.hasSuffix(".part") && !name.hasPrefix(".") {
            let path = settings.spoolDirectory + "/" + name
            guard let (info, format) = Self.convertedInfo(name) else {
                logger.warning("file in the spool that is not a live recording; left in place", metadata: ["file": "\(name)"])
                continue
            }
            if names.contains(ArchiveTemplate.clean(info.recordingID) + ".wav") {
                // Converted, but the WAV was not removed yet: the WAV is repaired and converted again.
                _ = unlink(path)
                continue
            }
            // Finished and converted, waiting for the archive when the recorder stopped.
            var status = stat()
            _ = stat(path, &status)
            var outcome = Outcome(recordingID: info.recordingID, location: .spool, path: path, bytes: Int(status.st_size),
                                  channels: 0, sampleRate: settings.sampleRate, format: format)
            outcome.channel = info.channel
            outcome.sha256 = Self.sha256(path)
            let box = RecoveredBox()
            archive(outcome, info: info, attempt: 0) { result in
                if box.value == nil { box.value = result } else { laterMove(result, info) }
            }
            let lastWrite = Date(timeIntervalSince1970: Double(status.st_mtim.tv_sec))
            recovered.append(Recovered(info: info, outcome: box.value ?? outcome, lastWrite: lastWrite, converted: true))
        }
        for name in names.sorted() where name.hasSuffix(".wav") {
            let path = settings.spoolDirectory + "/" + name
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var prefix = [UInt8](repeating: 0, count: 4096)
            let got = prefix.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4096, 0) }
            var status = stat()
            fstat(fd, &status)
            let lastWrite = Date(timeIntervalSince1970: Double(status.st_mtim.tv_sec) + Double(status.st_mtim.tv_nsec) / 1e9)
            if got >= Self.spareMark.count, Array(prefix[0..<Self.spareMark.count]) == Self.spareMark {
                // A spare caught by the crash between its rename and the new header: nobody's.
                close(fd)
                _ = unlink(path)
                continue
            }
            guard got > 0, let layout = try? WAVFile.layout(of: Array(prefix[0..<got])), let info = layout.info else {
                close(fd)
                logger.warning("spool file is not a siprecd recording; left in place", metadata: ["file": "\(name)"])
                continue
            }
            var outcome = Outcome(recordingID: info.recordingID, location: .spool, path: path, channels: layout.channels, sampleRate: layout.sampleRate)
            do {
                let length = try WAVFile.finalize(fd: fd, layout: layout, fileLength: Int(status.st_size))
                _ = fsync(fd)
                outcome.bytes = length
                outcome.audioSeconds = Double(length - layout.dataOffset) / Double(layout.blockAlign * layout.sampleRate)
            } catch {
                outcome.problem = "repair failed: \(error)"
            }
            close(fd)
            outcome.channel = info.channel
            for (part, partInfo) in splitIfWanted(outcome, info: info, layout: layout) {
                var part = part
                convert(&part, info: partInfo)
                part.sha256 = part.path.flatMap(Self.sha256)
                let box = RecoveredBox()
                archive(part, info: partInfo, attempt: 0) { result in
                    if box.value == nil { box.value = result } else { laterMove(result, partInfo) }
                }
                recovered.append(Recovered(info: partInfo, outcome: box.value ?? part, lastWrite: lastWrite))
            }
        }
        return recovered
    }

    private final class RecoveredBox: @unchecked Sendable { var value: Outcome? }

    /// Calls the start log says were in progress with no file yet (no audio before the stop)
    /// get the header-only file they would have had from their start, dated at their start, and
    /// are recovered with the others: a recording whose audio never came. The log then starts
    /// anew. Returns the names of the files made.
    private func filesForStartLog(_ names: [String]) -> [String] {
        defer {
            _ = unlink(startLogPath)
            _ = unlink(startLogPath + ".new")
        }
        guard let log = FileManager.default.contents(atPath: startLogPath) else { return [] }
        // A call with a spool file (or a converted one, `<id>~…`) is recovered from that file.
        let present = Set(names.map { name -> Substring in
            if let tilde = name.firstIndex(of: "~") { return name[..<tilde] }
            return name.hasSuffix(".wav") ? name.dropLast(4) : Substring(name)
        })
        var made: [String] = []
        for start in SpoolStartLog.open(Substring(String(decoding: log, as: UTF8.self))) {
            let base = ArchiveTemplate.clean(start.info.recordingID)
            guard !present.contains(Substring(base)) else { continue }
            let path = settings.spoolDirectory + "/" + base + ".wav"
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
            guard fd >= 0 else {
                logger.error("a call in progress at the stop could not be recovered: its spool file could not be made",
                             metadata: ["recording": "\(start.info.recordingID)", "error": "\(String(cString: strerror(errno)))"])
                continue
            }
            let written = writeAll(fd, WAVFile.header(channels: start.channels, sampleRate: settings.sampleRate, info: start.info))
            let seconds = start.info.startedAt.timeIntervalSince1970
            var times = [timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9)),
                         timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))]
            _ = futimens(fd, &times)
            close(fd)
            if written { made.append(base + ".wav") } else { _ = unlink(path) }
        }
        return made
    }

    /// A converted file's spool name carries what the archive name needs (the WAV's `sprc`
    /// chunk is gone by then): `<id>~<start ms>~<call id>.converted.<ext>`.
    public static func convertedName(_ recordingID: String, info: WAVFile.Info, format: AudioFormat, in folder: String) -> String {
        let milliseconds = Int64((info.startedAt.timeIntervalSince1970 * 1000).rounded())
        return folder + "/" + ArchiveTemplate.clean(recordingID) + "~\(milliseconds)~" + ArchiveTemplate.clean(info.callID)
            + (info.channel.map { "~\($0)" } ?? "") + ".converted." + format.fileExtension
    }

    /// The recording, start and Call-ID back from a converted file's name; nil if it is not one.
    static func convertedInfo(_ name: String) -> (info: WAVFile.Info, format: AudioFormat)? {
        guard let marker = name.range(of: ".converted.") else { return nil }
        let parts = name[..<marker.lowerBound].split(separator: "~", omittingEmptySubsequences: false)
        let ext = String(name[marker.upperBound...])
        guard parts.count == 3 || parts.count == 4, let milliseconds = Int64(parts[1]),
              let format = AudioFormat.allCases.first(where: { $0 != .wav && $0.fileExtension == ext }) else { return nil }
        return (WAVFile.Info(recordingID: String(parts[0]), startedAt: Date(timeIntervalSince1970: Double(milliseconds) / 1000),
                             callID: String(parts[2]), channel: parts.count == 4 ? Int(parts[3]) : nil), format)
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
