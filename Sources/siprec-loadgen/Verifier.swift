import Catalog
import Foundation

/// Checks the recordings siprecd wrote for the calls placed: each call's record in the
/// journals, then its WAV file: its SHA-256 against the journal's `file.sha256`, (a) length,
/// (b) which tone is on which channel, (c) alignment of the channels against each other and
/// against the time the media started.
struct Verifier {
    struct Report: Sendable {
        var recordingsFound = 0
        var recordingsVerified = 0
        var failures: [String: Int] = [:]
        /// The largest distance, in ms, between a first gap's onset in a file and where it
        /// belongs (signed: positive = later in the file than expected); nil if none measured.
        var worstAlignmentOffsetMs: Double?
        var worstChannelSkewMs: Double?
        /// A few failures in words, for the human summary.
        var examples: [String] = []
    }

    /// Tolerances from the load generator's brief.
    static let lengthTolerance = 0.5
    static let crosstalkRatio = 10.0
    /// A tone counts as present when it carries this share of the channel's power (two mixed
    /// tones carry about half each).
    static let presenceShare = 0.2
    static let channelSkewTolerance = 0.020
    static let offsetTolerance = 0.060

    /// The data directories of every recorder the calls went to (one per node); a call's
    /// recording may be in any of them.
    var dataDirectories: [String]
    var timeout: Double

    /// Polls the journals every 500 ms until every call's recording is archived in one of the
    /// directories or `timeout` passes, then checks every call that was set up: it passes when
    /// its recording passes in at least one directory.
    func verify(_ outcomes: [CallOutcome]) -> Report {
        let calls = outcomes.filter { $0.setupFailure == nil && $0.duration != nil }
        let deadline = Clock.now() + timeout
        var records: [[String: JournalRecord]] = []
        while true {
            records = dataDirectories.map { RecordingJournal.recordsByCallID(dataDirectory: $0) }
            let waiting = calls.filter { call in !candidates(of: call, in: records).contains(where: \.isArchived) }.count
            if waiting == 0 || Clock.now() >= deadline {
                if waiting > 0 { Log.warning("\(waiting) recording(s) not archived after \(Int(timeout)) s") }
                break
            }
            Clock.sleep(seconds: 0.5)
        }

        // WAV reading and analysis on every core; each call's result lands in its own slot.
        let found = calls.map { candidates(of: $0, in: records) }
        let results = LockedResults(count: calls.count)
        DispatchQueue.concurrentPerform(iterations: calls.count) { index in
            results.set(index, check(calls[index], candidates: found[index]))
        }

        var report = Report()
        for result in results.all {
            if result.found { report.recordingsFound += 1 }
            if result.failures.isEmpty {
                report.recordingsVerified += 1
            } else {
                for reason in result.failures { report.failures[reason, default: 0] += 1 }
                if report.examples.count < 10 { report.examples.append(result.summary) }
            }
            if let offset = result.alignmentOffset, abs(offset * 1000) > abs(report.worstAlignmentOffsetMs ?? 0) {
                report.worstAlignmentOffsetMs = offset * 1000
            }
            if let skew = result.channelSkew { report.worstChannelSkewMs = max(report.worstChannelSkewMs ?? 0, skew * 1000) }
        }
        return report
    }

    /// The record holding any of the call's dialogs, per directory that has one.
    private func candidates(of call: CallOutcome, in directories: [[String: JournalRecord]]) -> [JournalRecord] {
        directories.compactMap { records in call.callIDs.lazy.compactMap { records[$0] }.first }
    }

    /// The first candidate that passes; otherwise the result of the first archived one (or of
    /// the first, or of none), so the failure reported is the most telling.
    func check(_ call: CallOutcome, candidates: [JournalRecord]) -> CallResult {
        guard !candidates.isEmpty else { return check(call, record: nil) }
        var results: [CallResult] = []
        for record in candidates {
            let result = check(call, record: record)
            if result.failures.isEmpty { return result }
            results.append(result)
        }
        return results.first(where: \.found) ?? results[0]
    }

    struct CallResult: Sendable {
        var found = false
        var failures: [String] = []
        var alignmentOffset: Double?
        var channelSkew: Double?
        var summary = ""
    }

    func check(_ call: CallOutcome, record: JournalRecord?) -> CallResult {
        var result = CallResult()
        func fail(_ reason: String, _ detail: String) {
            if !result.failures.contains(reason) { result.failures.append(reason) }
            if result.summary.isEmpty { result.summary = "call \(call.index) (\(call.callIDs.first ?? "")): \(detail)" }
        }
        guard let record else {
            fail("no-record", "no recording record")
            return result
        }
        guard let file = record.file, record.isArchived else {
            fail("not-archived", "recording \(record.recordingID) has no archived file")
            return result
        }
        result.found = true
        if call.mode == .bib, !call.callIDs.allSatisfy(record.callIDs.contains) {
            fail("legs-not-paired", "recording \(record.recordingID) holds only one Built-in-Bridge leg")
        }
        guard let data = FileManager.default.contents(atPath: file.path) else {
            fail("wav-unreadable", "cannot read \(file.path)")
            return result
        }
        let bytes = [UInt8](data)
        // The checksum siprecd journaled when it archived the file.
        if let journaled = file.sha256 {
            let actual = SHA256.hex(bytes)
            if actual != journaled.lowercased() {
                fail("sha256-mismatch", "\(file.path): sha256 \(actual), journal says \(journaled)")
            }
        } else {
            fail("sha256-missing", "recording \(record.recordingID): no file.sha256 in the journal")
        }
        let wav: WAVFile
        do {
            wav = try WAVFile(bytes: bytes)
        } catch {
            fail("wav-unreadable", "\(file.path): \(error)")
            return result
        }
        guard let duration = call.duration else { return result }

        // (a) Length: 200 OK to BYE.
        if abs(wav.seconds - duration) > Self.lengthTolerance {
            fail("length", String(format: "audio %.2f s, call %.2f s", wav.seconds, duration))
        }

        // (b) Tones per channel.
        let expected = expectedFrequencies(call, channels: wav.channels)
        guard expected.count == wav.channels else {
            fail("channels", "\(wav.channels) channels")
            return result
        }
        let sent = call.streams.filter(\.accepted).map { StreamAudio.frequency(label: $0.label) }
        let mediaOffset = (call.firstRTPTime ?? call.answerTime ?? 0) - (call.answerTime ?? 0)
        let channels = (0..<wav.channels).map { wav.channel($0) }
        // Steady part: from 100 ms after the media started to 200 ms before the end.
        let first = min(wav.frames, Int((mediaOffset + 0.1) * Double(wav.sampleRate)))
        let last = max(first, wav.frames - wav.sampleRate / 5)
        if duration >= 0.6 {
            for (index, samples) in channels.enumerated() {
                let measured = SignalAnalysis.measureTones(samples, range: first..<last, frequencies: sent, sampleRate: wav.sampleRate)
                let wanted = expected[index]
                if wanted.isEmpty {
                    if measured.steadyBlocks > max(1, measured.blocks / 10) {
                        fail("unexpected-audio", "channel \(index) should be silent")
                    }
                    continue
                }
                guard measured.steadyBlocks > 0 else {
                    fail("silent-channel", "channel \(index) is silent")
                    continue
                }
                for frequency in wanted {
                    let power = measured.tonePower[frequency] ?? 0
                    if power < Self.presenceShare * measured.totalPower {
                        fail("tone-missing", String(format: "channel %d lacks %.0f Hz", index, frequency))
                    }
                    for other in sent where !wanted.contains(other) {
                        if power < Self.crosstalkRatio * (measured.tonePower[other] ?? 0) {
                            fail("tone-crosstalk", String(format: "channel %d: %.0f Hz not 10x over %.0f Hz", index, frequency, other))
                        }
                    }
                }
            }
        }

        // (c) Alignment: the first gap starts 1.0 s after the first packet, on every channel at once.
        guard call.firstRTPTime != nil, duration >= mediaOffset + StreamAudio.gapStart + StreamAudio.gapLength + 0.2 else { return result }
        var onsets: [Double] = []
        for (index, samples) in channels.enumerated() where !expected[index].isEmpty {
            guard let onset = SignalAnalysis.firstGapOnset(samples, sampleRate: wav.sampleRate) else {
                fail("gap-not-found", "channel \(index): no alignment gap found")
                return result
            }
            onsets.append(Double(onset) / Double(wav.sampleRate))
        }
        guard let earliest = onsets.min(), let latest = onsets.max() else { return result }
        result.channelSkew = latest - earliest
        if latest - earliest > Self.channelSkewTolerance {
            fail("gap-skew", String(format: "channels' gaps %.1f ms apart", (latest - earliest) * 1000))
        }
        let target = mediaOffset + StreamAudio.gapStart
        let offset = onsets.max(by: { abs($0 - target) < abs($1 - target) })! - target
        result.alignmentOffset = offset
        if abs(offset) > Self.offsetTolerance {
            fail("gap-offset", String(format: "first gap at %.3f s in the file, expected %.3f s", offset + target, target))
        }
        return result
    }

    /// The tones each channel should carry. SIPREC stereo: label 1 (and 3) on channel 0,
    /// label 2 on channel 1. Built-in-Bridge stereo: near end (label 1) on 0, far end on 1.
    /// Mono: everything mixed. Refused streams carry nothing.
    func expectedFrequencies(_ call: CallOutcome, channels: Int) -> [[Double]] {
        let accepted = call.streams.filter(\.accepted)
        switch channels {
        case 1:
            return [accepted.map { StreamAudio.frequency(label: $0.label) }]
        case 2:
            var mapping: [[Double]] = [[], []]
            for stream in accepted {
                mapping[stream.label == 2 ? 1 : 0].append(StreamAudio.frequency(label: stream.label))
            }
            return mapping
        default:
            return []
        }
    }
}

/// Per-call results written from concurrent workers.
private final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Verifier.CallResult]

    init(count: Int) {
        results = Array(repeating: Verifier.CallResult(), count: count)
    }

    func set(_ index: Int, _ result: Verifier.CallResult) {
        lock.withLock { results[index] = result }
    }

    var all: [Verifier.CallResult] { lock.withLock { results } }
}
