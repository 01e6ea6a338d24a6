import Foundation
import Logging
import Media
import Recording
import SIPTestSupport
import Testing

@Suite("Spool files, archive moves and crash repair")
struct RecordingFileTests {
    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "siprecd-recording-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let info = WAVFile.Info(recordingID: "rec-1", startedAt: Date(timeIntervalSince1970: 1_700_000_000), callID: "abc@example.com")

    @Test("the header names the recording and reads back")
    func headerRoundTrip() throws {
        let header = WAVFile.header(channels: 2, sampleRate: 8000, info: Self.info)
        let layout = try WAVFile.layout(of: header)
        #expect(layout.channels == 2)
        #expect(layout.sampleRate == 8000)
        #expect(layout.dataOffset == header.count)
        #expect(layout.info == Self.info)
        #expect(throws: WAVFile.FormatError.self) { try WAVFile.layout(of: Array("RIFF....WAVEjunk".utf8)) }
    }

    @Test("archive names come from the template, with values that cannot leave the folder")
    func template() throws {
        let template = try ArchiveTemplate("{yyyy}-{MM}-{dd}/{HH}{mm}{ss}-{callid}-{recording}.wav")
        #expect(template.path(recordingID: "r/../1", callID: "a b@example.com", startedAt: Self.info.startedAt)
                == "2023-11-14/221320-a_b_example.com-r_.._1.wav")
        let byParty = try ArchiveTemplate("{caller}/{callee}-{recording}.wav")
        #expect(byParty.path(recordingID: "r1", callID: "c", startedAt: Self.info.startedAt, parties: ["+12025550101", "alice/../x"]) == "+12025550101/alice_.._x-r1.wav")
        #expect(byParty.path(recordingID: "r1", callID: "c", startedAt: Self.info.startedAt) == "unknown/unknown-r1.wav")
        #expect(throws: ArchiveTemplate.Invalid.self) { try ArchiveTemplate("../{recording}.wav") }
        #expect(throws: ArchiveTemplate.Invalid.self) { try ArchiveTemplate("{callid}.wav") }
    }

    /// Runs a writer and waits for the first outcome of `finish`.
    static func finish(_ writer: SpoolWriter, _ id: String) async -> SpoolWriter.Outcome {
        await withCheckedContinuation { continuation in
            let once = Once()
            writer.finish(recordingID: id) { outcome in
                if once.first() { continuation.resume(returning: outcome) }
            }
        }
    }

    final class Once: @unchecked Sendable {
        private let lock = NSLock()
        private var done = false
        func first() -> Bool {
            lock.lock(); defer { lock.unlock() }
            if done { return false }
            done = true
            return true
        }
    }

    @Test("audio goes to the spool, then to the archive with its size and SHA-256")
    func spoolToArchive() async throws {
        let root = try Self.temporaryFolder()
        let writer = try SpoolWriter(settings: .init(spoolDirectory: root + "/spool", archiveDirectory: root + "/archive"), logger: Logger(label: "test"))
        writer.start()
        defer { writer.stop() }
        writer.begin(recordingID: "rec-1", startedAt: Self.info.startedAt, callID: "abc", channels: 2)
        writer.audio(recordingID: "rec-1", chunk: .init(leadingSilenceFrames: 4000, samples: Array(repeating: 1000, count: 8000)), channels: 2)
        let outcome = await Self.finish(writer, "rec-1")
        #expect(outcome.location == .archive)
        let path = try #require(outcome.path)
        #expect(path == root + "/archive/2023/11/14/rec-1.wav")
        #expect(abs(outcome.audioSeconds - 1.0) < 0.001)
        #expect(!FileManager.default.fileExists(atPath: root + "/spool/rec-1.wav"))
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count == outcome.bytes)
        let layout = try WAVFile.layout(of: bytes)
        #expect(bytes.count - layout.dataOffset == 8000 * 2 * 2)
        // RIFF size = file - 8; data size in the header matches.
        #expect(Int(UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24) == bytes.count - 8)
        #expect(outcome.sha256?.count == 64)
        let expected = try Checksum.sha256sum(path)
        #expect(outcome.sha256 == expected)
    }

    @Test("one file per stream: the finished file is split into mono files, each archived with its channel number")
    func splitPerStream() async throws {
        let root = try Self.temporaryFolder()
        var settings = SpoolWriter.Settings(spoolDirectory: root + "/spool", archiveDirectory: root + "/archive")
        settings.splitChannels = true
        let writer = try SpoolWriter(settings: settings, logger: Logger(label: "test"))
        writer.start()
        defer { writer.stop() }
        writer.begin(recordingID: "rec-1", startedAt: Self.info.startedAt, callID: "abc", channels: 3)
        // Channel c carries the value 100 * (c + 1) throughout.
        let frames = 20000
        let samples = (0..<(frames * 3)).map { Int16(100 * ($0 % 3 + 1)) }
        writer.audio(recordingID: "rec-1", chunk: .init(leadingSilenceFrames: 0, samples: samples), channels: 3)
        let outcomes = AsyncStream<SpoolWriter.Outcome>.makeStream()
        writer.finish(recordingID: "rec-1") { outcomes.continuation.yield($0) }
        var byChannel: [Int: SpoolWriter.Outcome] = [:]
        for await outcome in outcomes.stream {
            byChannel[outcome.channel ?? -1] = outcome
            if byChannel.count == 3 { break }
        }
        #expect(Set(byChannel.keys) == [0, 1, 2])
        for (channel, outcome) in byChannel {
            #expect(outcome.parts == 3)
            #expect(outcome.location == .archive)
            let path = try #require(outcome.path)
            #expect(path == root + "/archive/2023/11/14/rec-1-\(channel + 1).wav")
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            let layout = try WAVFile.layout(of: bytes)
            #expect(layout.channels == 1)
            #expect(layout.info?.channel == channel)
            #expect(bytes.count - layout.dataOffset == frames * 2)
            let values = stride(from: layout.dataOffset, to: bytes.count, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
            #expect(values.allSatisfy { $0 == Int16(100 * (channel + 1)) })
            #expect(outcome.sha256 == (try Checksum.sha256sum(path)))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/spool").filter { !$0.hasPrefix(".") }.isEmpty)
    }

    @Test("a spool file that cannot be written makes the writer unhealthy (new calls go elsewhere); an idle probe makes it healthy again")
    func unhealthyThenProbed() async throws {
        let root = try Self.temporaryFolder()
        let writer = try SpoolWriter(settings: .init(spoolDirectory: root + "/spool", archiveDirectory: root + "/archive"), logger: Logger(label: "test"))
        writer.start()
        defer { writer.stop() }
        // Folders where the recording's spool file and the writer's probe file should be:
        // neither can be opened for writing.
        try FileManager.default.createDirectory(atPath: root + "/spool/blocked.wav", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/spool/.probe", withIntermediateDirectories: true)
        writer.begin(recordingID: "blocked", startedAt: Date(), callID: "c", channels: 1)
        writer.audio(recordingID: "blocked", chunk: .init(leadingSilenceFrames: 0, samples: [1, 2, 3]), channels: 1)
        let failed = await Self.finish(writer, "blocked")
        #expect(failed.problem?.contains("could not be created") == true)
        #expect(!writer.healthy)
        // The spool is repaired; with nothing else to do the writer probes it and recovers.
        try FileManager.default.removeItem(atPath: root + "/spool/.probe")
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(5))
        var healthy = writer.healthy
        while !healthy, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            healthy = writer.healthy
        }
        #expect(healthy)
    }

    @Test("a call without audio leaves no file; a call in progress without audio is known to the recovery from the start log and gets its empty file")
    func noAudio() async throws {
        let root = try Self.temporaryFolder()
        let settings = SpoolWriter.Settings(spoolDirectory: root + "/spool", archiveDirectory: root + "/archive")
        let writer = try SpoolWriter(settings: settings, logger: Logger(label: "test"))
        writer.start()
        writer.begin(recordingID: "quiet", startedAt: Date(), callID: "c", channels: 2)
        let outcome = await Self.finish(writer, "quiet")
        #expect(outcome.location == nil)
        #expect(outcome.path == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/spool").filter { !$0.hasPrefix(".") }.isEmpty)
        // A call that is still on when the recorder dies, before any audio: only the start
        // log knows it. (Writers of the same folder stand in for the process before and after.)
        let started = Date(timeIntervalSince1970: 1_796_083_200)
        writer.begin(recordingID: "cut", startedAt: started, callID: "c-1@example.com", channels: 2, parties: ["+15550100", "alice smith"])
        writer.begin(recordingID: "ended", startedAt: started, callID: "c-2@example.com", channels: 1)
        _ = await Self.finish(writer, "ended")
        let logPath = root + "/spool/" + SpoolStartLog.fileName
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(5))
        while clock.now < deadline, !((try? String(contentsOfFile: logPath, encoding: .utf8))?.contains("\tcut\t") ?? false) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let restarted = try SpoolWriter(settings: settings, logger: Logger(label: "test"))
        let recovered = restarted.recoverSpool(laterMove: { _, _ in })
        writer.stop()
        #expect(recovered.count == 1, "\(recovered)")
        let cut = try #require(recovered.first)
        #expect(cut.info == WAVFile.Info(recordingID: "cut", startedAt: started, callID: "c-1@example.com", parties: ["+15550100", "alice smith"]))
        // It gets the file it would have had from its start: a header, no audio, archived.
        #expect(cut.outcome.location == .archive)
        #expect(cut.outcome.audioSeconds == 0)
        #expect(cut.outcome.channels == 2)
        #expect(cut.lastWrite == started, "dated at the call's start, not at the recovery")
        let archived = try WAVFile.layout(of: [UInt8](try Data(contentsOf: URL(fileURLWithPath: try #require(cut.outcome.path)))))
        #expect(archived.info?.recordingID == "cut" && archived.channels == 2)
        #expect(!FileManager.default.fileExists(atPath: logPath), "the recovery starts a new log")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/spool").filter { !$0.hasPrefix(".") }.isEmpty)
    }

    @Test("a start log that cannot be written makes the spool unhealthy, and is written anew, whole, once it can be")
    func startLogRepaired() async throws {
        let root = try Self.temporaryFolder()
        let writer = try SpoolWriter(settings: .init(spoolDirectory: root + "/spool", archiveDirectory: root + "/archive"), logger: Logger(label: "test"))
        writer.start()
        defer { writer.stop() }
        let logPath = root + "/spool/" + SpoolStartLog.fileName
        // A folder where the log should be: it cannot be opened for writing.
        try FileManager.default.createDirectory(atPath: logPath, withIntermediateDirectories: true)
        writer.begin(recordingID: "first", startedAt: Date(), callID: "c-1@example.com", channels: 1)
        let clock = ContinuousClock()
        var deadline = clock.now.advanced(by: .seconds(5))
        while writer.healthy, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!writer.healthy, "a call the recovery could not learn of makes new calls go elsewhere")
        try FileManager.default.removeItem(atPath: logPath)
        writer.begin(recordingID: "second", startedAt: Date(), callID: "c-2@example.com", channels: 1)
        deadline = clock.now.advanced(by: .seconds(5))
        var open: [String] = []
        while clock.now < deadline {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            open = SpoolStartLog.open(Substring(text)).map(\.info.recordingID)
            if open.count == 2 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(Set(open) == ["first", "second"], "the call begun while the log was broken is in it again")
        deadline = clock.now.advanced(by: .seconds(5))
        while !writer.healthy, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(writer.healthy, "healthy again once the log is whole")
    }

    @Test("the start log keeps the calls begun and not ended, whatever their ids hold, and skips lines that are not whole")
    func startLogLines() {
        let first = SpoolStartLog.Start(info: WAVFile.Info(recordingID: "a", startedAt: Date(timeIntervalSince1970: 1_700_000_000.5),
                                                           callID: "x\ty,%z@example.com", parties: ["+1 555", "bob,jr"]), channels: 2)
        let second = SpoolStartLog.Start(info: WAVFile.Info(recordingID: "b", startedAt: Date(timeIntervalSince1970: 1_700_000_001),
                                                            callID: "plain@example.com"), channels: 1)
        let third = SpoolStartLog.Start(info: WAVFile.Info(recordingID: "c", startedAt: Date(timeIntervalSince1970: 1_700_000_002),
                                                           callID: "gone@example.com"), channels: 1)
        let text = SpoolStartLog.beginLine(first) + SpoolStartLog.beginLine(third) + SpoolStartLog.beginLine(second)
            + SpoolStartLog.endLine("c") + "B\t17\t2\tbroken\n" + "not a line at all\n" + SpoolStartLog.endLine("b").dropLast(2)
        #expect(!text.contains("x\ty"), "tabs in fields are escaped")
        #expect(SpoolStartLog.open(Substring(text)) == [first, second])
        #expect(SpoolStartLog.open(Substring(SpoolStartLog.beginLine(first) + SpoolStartLog.beginLine(second) + SpoolStartLog.endLine("b"))) == [first])
        #expect(SpoolStartLog.open("") == [])
    }

    @Test("an archive that refuses the file leaves it in the spool, and a retry moves it later")
    func archiveRetry() async throws {
        let root = try Self.temporaryFolder()
        // A file where the archive folder should be: nothing can be created under it.
        _ = FileManager.default.createFile(atPath: root + "/archive", contents: Data())
        var settings = SpoolWriter.Settings(spoolDirectory: root + "/spool", archiveDirectory: root + "/archive")
        settings.retryFirst = .milliseconds(50)
        let writer = try SpoolWriter(settings: settings, logger: Logger(label: "test"))
        writer.start()
        defer { writer.stop() }
        writer.begin(recordingID: "rec-2", startedAt: Self.info.startedAt, callID: "abc", channels: 1)
        writer.audio(recordingID: "rec-2", chunk: .init(leadingSilenceFrames: 0, samples: Array(repeating: 7, count: 800)), channels: 1)
        let outcomes = AsyncStream<SpoolWriter.Outcome>.makeStream()
        writer.finish(recordingID: "rec-2") { outcomes.continuation.yield($0) }
        var iterator = outcomes.stream.makeAsyncIterator()
        let first = try #require(await iterator.next())
        #expect(first.location == .spool)
        #expect(first.path == root + "/spool/rec-2.wav")
        #expect(first.problem?.contains("archive unavailable") == true)
        #expect(writer.pendingArchiveMoves == 1)
        try FileManager.default.removeItem(atPath: root + "/archive")
        let second = try #require(await iterator.next())
        #expect(second.location == .archive)
        #expect(second.sha256 == first.sha256)
        #expect(FileManager.default.fileExists(atPath: root + "/archive/2023/11/14/rec-2.wav"))
    }

    @Test("a converted file that waited in the spool for the archive is archived at the next start")
    func convertedLeftInSpool() throws {
        let root = try Self.temporaryFolder()
        let spool = root + "/spool"
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let name = SpoolWriter.convertedName("rec-9", info: Self.info, format: .flac, in: spool)
        _ = FileManager.default.createFile(atPath: name, contents: Data("fLaC....".utf8))
        // A converted file whose WAV is still there was cut short: the WAV is done again.
        let stale = SpoolWriter.convertedName("rec-8", info: Self.info, format: .mp3, in: spool)
        _ = FileManager.default.createFile(atPath: stale, contents: Data("ID3".utf8))
        _ = FileManager.default.createFile(atPath: spool + "/rec-8.wav", contents: Data(WAVFile.header(channels: 1, sampleRate: 8000, info: Self.info) + [0, 0]))
        var settings = SpoolWriter.Settings(spoolDirectory: spool, archiveDirectory: root + "/archive")
        settings.format = .flac
        let writer = try SpoolWriter(settings: settings, logger: Logger(label: "test"))
        let recovered = writer.recoverSpool(laterMove: { _, _ in })
        let converted = try #require(recovered.first { $0.converted })
        #expect(converted.info?.recordingID == "rec-9")
        #expect(converted.info?.startedAt == Self.info.startedAt)
        #expect(converted.outcome.path == root + "/archive/2023/11/14/rec-9.flac")
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(recovered.contains { $0.info?.recordingID == "rec-1" && !$0.converted })
    }

    @Test("a spool file cut off by a crash is repaired to its last whole frame and archived")
    func crashRepair() throws {
        let root = try Self.temporaryFolder()
        let spool = root + "/spool"
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        // What a killed writer leaves: placeholder sizes and half a frame at the end.
        var bytes = WAVFile.header(channels: 2, sampleRate: 8000, info: Self.info)
        let headerLength = bytes.count
        bytes += [UInt8](repeating: 3, count: 16000 * 2 + 3)
        _ = FileManager.default.createFile(atPath: spool + "/rec-1.wav", contents: Data(bytes))
        _ = FileManager.default.createFile(atPath: spool + "/foreign.wav", contents: Data("not a wav".utf8))
        let writer = try SpoolWriter(settings: .init(spoolDirectory: spool, archiveDirectory: root + "/archive"), logger: Logger(label: "test"))
        let recovered = writer.recoverSpool(laterMove: { _, _ in })
        #expect(recovered.count == 1)
        let outcome = try #require(recovered.first?.outcome)
        #expect(recovered.first?.info == Self.info)
        #expect(outcome.location == .archive)
        #expect(abs(outcome.audioSeconds - 1.0) < 0.001)
        let repaired = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try #require(outcome.path))))
        #expect(repaired.count == headerLength + 32000)
        let dataSize = Int(UInt32(repaired[headerLength - 4]) | UInt32(repaired[headerLength - 3]) << 8 | UInt32(repaired[headerLength - 2]) << 16)
        #expect(dataSize == 32000)
        #expect(FileManager.default.fileExists(atPath: spool + "/foreign.wav"))
    }
}

@Suite("Archive formats through libsndfile")
struct AudioFormatTests {
    @Test("each format is converted when the call ends and archived under its extension; the WAV leaves the spool",
          arguments: AudioFormat.allCases.filter { $0 != .wav })
    func convert(format: AudioFormat) async throws {
        let root = try RecordingFileTests.temporaryFolder()
        var settings = SpoolWriter.Settings(spoolDirectory: root + "/spool", archiveDirectory: root + "/archive")
        settings.format = format
        let writer = try SpoolWriter(settings: settings, logger: Logger(label: "test"))
        writer.start()
        defer { writer.stop() }
        writer.begin(recordingID: "f", startedAt: RecordingFileTests.info.startedAt, callID: "c", channels: 2)
        let tone = (0..<16000).map { Int16(6000 * sin(2 * Double.pi * 440 * Double($0 / 2) / 8000)) }
        writer.audio(recordingID: "f", chunk: .init(leadingSilenceFrames: 0, samples: tone), channels: 2)
        let outcome = await RecordingFileTests.finish(writer, "f")
        #expect(outcome.problem == nil, "\(outcome.problem ?? "")")
        #expect(outcome.format == format)
        #expect(outcome.location == .archive)
        let path = try #require(outcome.path)
        #expect(path == root + "/archive/2023/11/14/f.\(format.fileExtension)")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size == outcome.bytes && size > 100)
        #expect(outcome.sha256 == (try Checksum.sha256sum(path)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/spool").filter { !$0.hasPrefix(".") }.isEmpty)
    }
}
