import Catalog
import Cluster
import Foundation
import Logging
import Testing

@Suite struct NodeHealthTests {
    @Test func healthyByDefault() {
        let verdict = HealthVerdict.evaluate(HealthInputs())
        #expect(verdict.healthy)
        #expect(verdict.primary == nil)
        #expect(verdict.retryAfterSeconds == 0)
    }

    @Test func eachInputMakesItsOwnProblem() {
        var inputs = HealthInputs()
        inputs.recordsWritable = false
        #expect(HealthVerdict.evaluate(inputs).problems == [.recordsNotWritable])
        inputs = HealthInputs()
        inputs.spoolHealthy = false
        #expect(HealthVerdict.evaluate(inputs).problems == [.spoolUnhealthy])
        inputs = HealthInputs()
        inputs.archiveHasSpace = false
        #expect(HealthVerdict.evaluate(inputs).problems == [.archiveLowSpace])
        inputs = HealthInputs()
        inputs.activeCalls = 10
        inputs.maxCalls = 10
        #expect(HealthVerdict.evaluate(inputs).problems == [.atCapacity])
        inputs.activeCalls = 9
        #expect(HealthVerdict.evaluate(inputs).healthy)
        inputs = HealthInputs()
        inputs.freeMediaPorts = 0
        #expect(HealthVerdict.evaluate(inputs).problems == [.noMediaPorts])
    }

    @Test func drainingComesFirstAndAsksForTheLongestWait() {
        var inputs = HealthInputs()
        inputs.freeMediaPorts = 0
        inputs.draining = true
        inputs.spoolHealthy = false
        let verdict = HealthVerdict.evaluate(inputs)
        #expect(verdict.problems == [.draining, .spoolUnhealthy, .noMediaPorts])
        #expect(verdict.primary == .draining)
        #expect(verdict.retryAfterSeconds == HealthProblem.draining.retryAfterSeconds)
        #expect(HealthProblem.atCapacity.retryAfterSeconds < HealthProblem.spoolUnhealthy.retryAfterSeconds)
    }
}

@Suite struct DrainStateTests {
    @Test func firstSignalWithoutCallsFinishesAtOnce() {
        var drain = DrainState()
        #expect(drain.signal(now: 0, timeout: 60, activeCalls: 0) == [.startRefusing, .finish])
        #expect(drain.phase == .finished)
        #expect(drain.signal(now: 1, timeout: 60, activeCalls: 0) == [])
    }

    @Test func drainEndsWhenTheLastCallEnds() {
        var drain = DrainState()
        #expect(drain.signal(now: 100, timeout: 60, activeCalls: 2) == [.startRefusing])
        #expect(drain.isDraining)
        #expect(drain.callsChanged(activeCalls: 1) == .none)
        #expect(drain.tick(now: 159) == .none)
        #expect(drain.callsChanged(activeCalls: 0) == .finish)
        #expect(drain.phase == .finished)
        // Late events change nothing.
        #expect(drain.tick(now: 1000) == .none)
        #expect(drain.callsEnded() == .none)
    }

    @Test func timeoutEndsTheCallsThenFinishes() {
        var drain = DrainState()
        _ = drain.signal(now: 100, timeout: 60, activeCalls: 3)
        #expect(drain.tick(now: 160) == .endCalls(.drainTimeout))
        #expect(drain.phase == .endingCalls(reason: .drainTimeout))
        // The calls ending by the recorder's BYE do not finish before the BYEs are done.
        #expect(drain.callsChanged(activeCalls: 0) == .none)
        #expect(drain.callsEnded() == .finish)
        #expect(drain.callsEnded() == .none)
    }

    @Test func secondSignalEndsTheCallsNow() {
        var drain = DrainState()
        _ = drain.signal(now: 0, timeout: 900, activeCalls: 1)
        #expect(drain.signal(now: 5, timeout: 900, activeCalls: 1) == [.endCalls(.secondSignal)])
        #expect(drain.tick(now: 2000) == .none)
        #expect(drain.signal(now: 6, timeout: 900, activeCalls: 1) == [])
        #expect(drain.callsEnded() == .finish)
    }
}

@Suite struct ReplicationInboxTests {
    struct Setup {
        let root: URL
        let inbox: ReplicationInbox
        var archive: URL { root.appendingPathComponent("archive") }
        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("inbox-\(UUID().uuidString)")
            inbox = try ReplicationInbox(dataDirectory: root, archiveDirectory: root.appendingPathComponent("archive"),
                                         logger: Logger(label: "test")) { path in
                FileManager.default.contents(atPath: path).map { SHA256.hex([UInt8]($0)) }
            }
        }
    }

    static let audio: [UInt8] = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) }

    static func record(_ id: String) -> String {
        #"{"recordingID":"\#(id)","state":"completed","startedAt":"2026-11-30T10:00:00.000Z","file":{"location":"archive","path":"/elsewhere/a.wav","format":"wav","bytes":5000,"sha256":"\#(SHA256.hex(audio))","channel":null,"sampleRate":8000,"channels":2,"channelRoles":[],"audioSeconds":0.3},"files":[]}"#
    }

    static func manifest(_ id: String, sha: String = SHA256.hex(audio), path: String = "2026/11/30/r1.wav") -> ReplicationManifest {
        ReplicationManifest(recordingID: id, origin: "node-a", record: record(id),
                            files: [.init(index: 0, relativePath: path, sha256: sha, bytes: Int64(audio.count))])
    }

    @Test func chunksResumeAtTheReceivedOffsetAndCommitOnce() throws {
        let setup = try Setup()
        defer { try? FileManager.default.removeItem(at: setup.root) }
        let inbox = setup.inbox
        #expect(try inbox.append(recordingID: "r1", index: 0, offset: 0, bytes: Array(Self.audio[..<2000])) == 2000)
        // A chunk at the wrong offset is refused with where to continue.
        #expect(throws: ReplicationError.offsetMismatch(received: 2000)) {
            try inbox.append(recordingID: "r1", index: 0, offset: 1000, bytes: Array(Self.audio[1000..<3000]))
        }
        #expect(try inbox.status(recordingID: "r1", index: 0).receivedBytes == 2000)
        #expect(throws: ReplicationError.incomplete(index: 0, received: 2000)) { try inbox.commit(Self.manifest("r1")) }
        #expect(try inbox.append(recordingID: "r1", index: 0, offset: 2000, bytes: Array(Self.audio[2000...])) == 5000)
        final class Paths: @unchecked Sendable {
            let lock = NSLock()
            var all: [String] = []
        }
        let appended = Paths()
        inbox.onAppended = { paths in appended.lock.withLock { appended.all += paths } }
        #expect(try inbox.commit(Self.manifest("r1")) == .stored)
        let archived = setup.archive.appendingPathComponent("2026/11/30/r1.wav")
        #expect(FileManager.default.contents(atPath: archived.path).map { [UInt8]($0) } == Self.audio)
        #expect(try inbox.status(recordingID: "r1", index: 0).committed)
        // Sent again: stored once.
        #expect(try inbox.commit(Self.manifest("r1")) == .alreadyPresent)
        #expect(appended.lock.withLock { appended.all } == ["2026/11/30/records.jsonl"])
        let journal = try String(contentsOf: inbox.journalRoot.appendingPathComponent("2026/11/30/records.jsonl"), encoding: .utf8)
        #expect(journal.split(separator: "\n").count == 1)
        let entry = try CatalogEntry(journalLine: Array(journal.split(separator: "\n")[0].utf8))
        #expect(entry.origin == "node-a")
        #expect(entry.files.first?.path == archived.path)
        #expect(entry.files.first?.location == "archive")
    }

    @Test func aCorruptFileIsRefusedAndDiscarded() throws {
        let setup = try Setup()
        defer { try? FileManager.default.removeItem(at: setup.root) }
        var damaged = Self.audio
        damaged[100] ^= 0xFF
        _ = try setup.inbox.append(recordingID: "r2", index: 0, offset: 0, bytes: damaged)
        #expect(throws: ReplicationError.checksumMismatch(index: 0)) { try setup.inbox.commit(Self.manifest("r2")) }
        #expect(try setup.inbox.status(recordingID: "r2", index: 0).receivedBytes == 0)
        #expect(!FileManager.default.fileExists(atPath: setup.archive.appendingPathComponent("2026/11/30/r1.wav").path))
    }

    @Test func pathsAndIdsCannotLeaveTheirFolders() throws {
        let setup = try Setup()
        defer { try? FileManager.default.removeItem(at: setup.root) }
        for path in ["../x.wav", "/etc/passwd", "a/../../x", "", "a//b"] {
            _ = try? setup.inbox.append(recordingID: "r3", index: 0, offset: 0, bytes: Self.audio)
            #expect(throws: ReplicationError.self) { try setup.inbox.commit(Self.manifest("r3", path: path)) }
        }
        for id in ["../r", "a/b", "", ".hidden"] {
            #expect(throws: ReplicationError.self) { try setup.inbox.append(recordingID: id, index: 0, offset: 0, bytes: [1]) }
        }
        #expect(throws: ReplicationError.self) { try setup.inbox.append(recordingID: "r4", index: 99, offset: 0, bytes: [1]) }
    }
}
