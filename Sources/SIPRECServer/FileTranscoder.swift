import AdminAPI
import Catalog
import Foundation
import NIOConcurrencyHelpers
import NIOPosix
import Recording

/// `?format=` of the audio API: converts an archived file with libsndfile, on NIO's
/// blocking-work thread pool (never on an event loop), into a cache folder.
///
/// A browser's player asks for a file by byte ranges, one request per seek: each used to
/// convert the whole recording again (an hour of MP3 is six seconds of a core). Conversions are
/// kept under `<data-dir>/cache/audio`, named by the source file's path, size and modification
/// time and the format (a source that changes gets a new conversion), written to a `.part` file
/// and renamed when whole. Requests for the same conversion at once share one. The folder is
/// kept under `maxBytes` by removing the least recently served files.
final class FileTranscoder: AudioTranscoder, Sendable {
    var formats: [String] { ["wav", "wav-ulaw", "wav-alaw", "flac", "ogg", "mp3"] }

    let folder: URL
    let maxBytes: Int64
    private let running = NIOLockedValueBox<[String: Task<URL, any Error>]>([:])

    init(folder: URL, maxBytes: Int64 = 2 << 30) {
        self.folder = folder
        self.maxBytes = maxBytes
        // What a stopped conversion left behind.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasSuffix(".part") {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    static func audioFormat(_ name: String) -> AudioFormat? {
        switch name {
        case "wav": return .wav
        case "ogg": return .oggOpus
        default: return AudioFormat(rawValue: name)
        }
    }

    func transcode(_ source: URL, to format: String) async throws -> URL {
        guard let target = Self.audioFormat(format) else { throw UnknownFormat() }
        let attributes = try FileManager.default.attributesOfItem(atPath: source.path)
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let key = SHA256.hex(Array("\(source.path)\n\(size)\n\(modified)\n\(format)".utf8))
        let destination = folder.appendingPathComponent("\(key).\(target.fileExtension)")
        if FileManager.default.fileExists(atPath: destination.path) {
            // Served again: it is the most recently used.
            try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: destination.path)
            return destination
        }
        let task = running.withLockedValue { tasks -> Task<URL, any Error> in
            if let existing = tasks[key] { return existing }
            let made = Task { [folder] in
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                let part = destination.appendingPathExtension("part")
                try await NIOThreadPool.singleton.runIfActive {
                    defer { try? FileManager.default.removeItem(at: part) }
                    try target.convert(wav: source.path, to: part.path)
                    if rename(part.path, destination.path) != 0 { throw CocoaError(.fileWriteUnknown) }
                }
                return destination
            }
            tasks[key] = made
            return made
        }
        defer { _ = running.withLockedValue { $0.removeValue(forKey: key) } }
        let url = try await task.value
        trim(keeping: url)
        return url
    }

    /// Removes the least recently served conversions until the folder fits `maxBytes`
    /// (never `keeping`, which is being served).
    func trim(keeping: URL) {
        let keys: [URLResourceKey] = [.fileSizeKey, .contentModificationDateKey]
        guard let files = try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: keys) else { return }
        var entries = files.filter { $0.pathExtension != "part" }.compactMap { url -> (URL, Int64, Date)? in
            guard let values = try? url.resourceValues(forKeys: Set(keys)) else { return nil }
            return (url, Int64(values.fileSize ?? 0), values.contentModificationDate ?? .distantPast)
        }
        var total = entries.reduce(0) { $0 + $1.1 }
        guard total > maxBytes else { return }
        entries.sort { $0.2 < $1.2 }
        for (url, size, _) in entries where total > maxBytes && url.lastPathComponent != keeping.lastPathComponent {
            try? FileManager.default.removeItem(at: url)
            total -= size
        }
    }
}

struct UnknownFormat: Error {}
