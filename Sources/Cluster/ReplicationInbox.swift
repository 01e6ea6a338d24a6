import Catalog
import Foundation
import Logging

/// What a peer sends to replicate one finished recording: its record as the origin journalled
/// it, and its files, each with where it sits under the origin's archive and its SHA-256.
public struct ReplicationManifest: Codable, Sendable, Equatable {
    public struct File: Codable, Sendable, Equatable {
        public var index: Int
        /// Under the archive folder (`2026/11/30/<id>.wav`); the receiver keeps the same place
        /// under its own archive.
        public var relativePath: String
        public var sha256: String
        public var bytes: Int64
        public init(index: Int, relativePath: String, sha256: String, bytes: Int64) {
            self.index = index
            self.relativePath = relativePath
            self.sha256 = sha256
            self.bytes = bytes
        }
    }

    public var recordingID: String
    /// The node that recorded it.
    public var origin: String
    /// The journal line of the finished recording, as a JSON object in text.
    public var record: String
    public var files: [File]

    public init(recordingID: String, origin: String, record: String, files: [File]) {
        self.recordingID = recordingID
        self.origin = origin
        self.record = record
        self.files = files
    }
}

public enum ReplicationError: Error, Equatable, CustomStringConvertible {
    /// An upload chunk does not start where the received part ends (the sender resumes there).
    case offsetMismatch(received: Int64)
    /// A file's bytes do not hash to the manifest's SHA-256 (the part is discarded).
    case checksumMismatch(index: Int)
    /// A file's size differs from the manifest's.
    case incomplete(index: Int, received: Int64)
    /// The same archive path already holds different audio.
    case conflict(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .offsetMismatch(let received): "upload must continue at byte \(received)"
        case .checksumMismatch(let index): "file \(index) does not match its SHA-256; send it again"
        case .incomplete(let index, let received): "file \(index) has \(received) bytes, fewer or more than announced"
        case .conflict(let path): "the archive already holds different audio at \(path)"
        case .invalid(let why): why
        }
    }
}

/// Receives replicated recordings from peers. Files arrive in chunks into a staging folder
/// (`<data-dir>/replication/incoming/<id>/<index>.part`), so a broken transfer resumes where
/// it stopped; the commit checks every file against its SHA-256, moves it into the archive at
/// the origin's relative path, and appends the record, marked with its origin and with this
/// node's paths, to the replicated-records journal (`<data-dir>/replicated/YYYY/MM/DD/records.jsonl`),
/// which an ingestor applies to the catalog like the node's own. Commits are idempotent by
/// recording id and SHA-256: the same recording sent twice is stored once.
public final class ReplicationInbox: @unchecked Sendable {
    public let dataDirectory: URL
    public let archiveDirectory: URL
    /// The journal root the replicated records go to.
    public var journalRoot: URL { dataDirectory.appendingPathComponent("replicated") }
    private var incoming: URL { dataDirectory.appendingPathComponent("replication/incoming") }
    private var received: URL { dataDirectory.appendingPathComponent("replication/received") }
    private let hashFile: @Sendable (String) -> String?
    private let logger: Logger
    private let lock = NSLock()
    /// Told which journal files a commit appended to (relative to `journalRoot`).
    public var onAppended: (@Sendable ([String]) -> Void)?
    public private(set) var committed = 0

    /// `hashFile`: the SHA-256 (hex) of a file, streamed (the server passes OpenSSL's).
    public init(dataDirectory: URL, archiveDirectory: URL, logger: Logger, hashFile: @escaping @Sendable (String) -> String?) throws {
        self.dataDirectory = dataDirectory
        self.archiveDirectory = archiveDirectory
        self.logger = logger
        self.hashFile = hashFile
        for folder in [dataDirectory.appendingPathComponent("replication/incoming"), dataDirectory.appendingPathComponent("replication/received"),
                       dataDirectory.appendingPathComponent("replicated")] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
    }

    static func safe(_ id: String) throws -> String {
        let cleaned = String(id.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" || $0 == "." }
            .map(Character.init))
        guard !cleaned.isEmpty, cleaned == id, id.count <= 128, !id.hasPrefix(".") else {
            throw ReplicationError.invalid("recording id must be letters, digits, '-', '_' or '.'")
        }
        return cleaned
    }

    private func partURL(_ id: String, _ index: Int) throws -> URL {
        guard (0..<64).contains(index) else { throw ReplicationError.invalid("file index out of range") }
        return incoming.appendingPathComponent(try Self.safe(id)).appendingPathComponent("\(index).part")
    }

    /// Bytes of file `index` received so far, and whether the recording is already committed.
    public func status(recordingID: String, index: Int) throws -> (receivedBytes: Int64, committed: Bool) {
        let part = try partURL(recordingID, index)
        let done = FileManager.default.fileExists(atPath: received.appendingPathComponent(try Self.safe(recordingID)).path)
        let size = (try? FileManager.default.attributesOfItem(atPath: part.path)[.size] as? NSNumber)?.int64Value ?? 0
        return (size, done)
    }

    /// Appends a chunk at `offset` (0 starts the file over). Returns the bytes received.
    public func append(recordingID: String, index: Int, offset: Int64, bytes: [UInt8]) throws -> Int64 {
        let part = try partURL(recordingID, index)
        return try lock.withLock {
            try FileManager.default.createDirectory(at: part.deletingLastPathComponent(), withIntermediateDirectories: true)
            if offset == 0 { _ = FileManager.default.createFile(atPath: part.path, contents: nil) }
            let size = (try? FileManager.default.attributesOfItem(atPath: part.path)[.size] as? NSNumber)?.int64Value ?? 0
            guard offset == size, FileManager.default.fileExists(atPath: part.path) else { throw ReplicationError.offsetMismatch(received: size) }
            let handle = try FileHandle(forWritingTo: part)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: bytes)
            return size + Int64(bytes.count)
        }
    }

    public enum CommitResult: Sendable, Equatable { case stored, alreadyPresent }

    /// Checks, archives and journals a recording whose files have all arrived.
    public func commit(_ manifest: ReplicationManifest) throws -> CommitResult {
        let id = try Self.safe(manifest.recordingID)
        return try lock.withLock {
            let marker = received.appendingPathComponent(id)
            let fingerprint = manifest.files.sorted { $0.index < $1.index }.map(\.sha256).joined(separator: "\n")
            if let previous = try? String(contentsOf: marker, encoding: .utf8), previous == fingerprint {
                return .alreadyPresent
            }
            guard var record = (try? JSONSerialization.jsonObject(with: Data(manifest.record.utf8))) as? [String: Any],
                  record["recordingID"] as? String == manifest.recordingID else {
                throw ReplicationError.invalid("record must be the recording's journal line, with the same recordingID")
            }
            // Every file first checked, then moved: a bad file leaves nothing half-archived.
            var destinations: [Int: URL] = [:]
            for file in manifest.files {
                let part = try partURL(id, file.index)
                let destination = try archivePath(file.relativePath)
                if let existing = hashFile(destination.path) {
                    guard existing == file.sha256 else { throw ReplicationError.conflict(file.relativePath) }
                    destinations[file.index] = destination
                    continue
                }
                let size = (try? FileManager.default.attributesOfItem(atPath: part.path)[.size] as? NSNumber)?.int64Value ?? 0
                guard size == file.bytes else { throw ReplicationError.incomplete(index: file.index, received: size) }
                guard hashFile(part.path) == file.sha256 else {
                    try? FileManager.default.removeItem(at: part)
                    throw ReplicationError.checksumMismatch(index: file.index)
                }
                destinations[file.index] = destination
            }
            for file in manifest.files {
                guard let destination = destinations[file.index] else { continue }
                let part = try partURL(id, file.index)
                guard FileManager.default.fileExists(atPath: part.path) else { continue }
                try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
                if FileManager.default.fileExists(atPath: destination.path) {
                    try? FileManager.default.removeItem(at: part)
                } else if rename(part.path, destination.path) != 0 {
                    // Another file system: copy, then drop the part.
                    try FileManager.default.copyItem(at: part, to: destination)
                    try? FileManager.default.removeItem(at: part)
                }
            }
            try? FileManager.default.removeItem(at: incoming.appendingPathComponent(id))
            // The record as this node serves it: its origin, and its files where they are here.
            record["origin"] = manifest.origin
            func relocate(_ file: [String: Any], index: Int) -> [String: Any] {
                var file = file
                if let destination = destinations[index] {
                    file["path"] = destination.path
                    file["location"] = "archive"
                }
                return file
            }
            var index = 0
            if let file = record["file"] as? [String: Any] {
                record["file"] = relocate(file, index: 0)
                index = 1
            }
            if let files = record["files"] as? [[String: Any]] {
                record["files"] = files.enumerated().map { relocate($0.element, index: index + $0.offset) }
            }
            let line = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes])
            let relative = try appendToJournal(line, startedAt: record["startedAt"] as? String)
            try fingerprint.write(to: marker, atomically: true, encoding: .utf8)
            committed += 1
            logger.info("replicated recording stored", metadata: ["recording": "\(id)", "origin": "\(manifest.origin)", "files": "\(manifest.files.count)"])
            onAppended?([relative])
            return .stored
        }
    }

    /// `<archive>/<relative>`, refusing anything that would leave the archive.
    func archivePath(_ relative: String) throws -> URL {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !relative.isEmpty, !relative.hasPrefix("/"), parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }),
              !relative.contains("\0") else {
            throw ReplicationError.invalid("relativePath must stay inside the archive")
        }
        return archiveDirectory.appendingPathComponent(relative)
    }

    /// Appends one line (synced) to the journal of the recording's start day (UTC).
    private func appendToJournal(_ line: Data, startedAt: String?) throws -> String {
        let date = startedAt.flatMap(CatalogDate.parse) ?? Date()
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        let relative = String(format: "%04d/%02d/%02d/records.jsonl", parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
        let url = journalRoot.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line + Data([0x0A]))
        try handle.synchronize()
        return relative
    }
}
