import AdminAPI
import Foundation
import NIOPosix
import Recording

/// `?format=` of the audio API: converts an archived file with libsndfile into a temporary
/// file, on NIO's blocking-work thread pool (never on an event loop).
struct FileTranscoder: AudioTranscoder {
    var formats: [String] { ["wav", "wav-ulaw", "wav-alaw", "flac", "ogg", "mp3"] }

    static func audioFormat(_ name: String) -> AudioFormat? {
        switch name {
        case "wav": return .wav
        case "ogg": return .oggOpus
        default: return AudioFormat(rawValue: name)
        }
    }

    func transcode(_ source: URL, to format: String) async throws -> URL {
        guard let target = Self.audioFormat(format) else { throw UnknownFormat() }
        let destination = FileManager.default.temporaryDirectory
            .appendingPathComponent("siprecd-transcode-\(UUID().uuidString).\(target.fileExtension)")
        try await NIOThreadPool.singleton.runIfActive {
            try target.convert(wav: source.path, to: destination.path)
        }
        return destination
    }
}

struct UnknownFormat: Error {}
