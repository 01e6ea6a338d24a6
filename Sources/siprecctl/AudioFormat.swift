import ArgumentParser
import Foundation

/// `--format` of `download`: the `format` query value and the file extension it gets.
enum AudioFormat: String, CaseIterable, Sendable, ExpressibleByArgument {
    case wav, flac, ogg, mp3
    case wavULaw = "wav-ulaw"
    case wavALaw = "wav-alaw"

    var fileExtension: String {
        switch self {
        case .wav, .wavULaw, .wavALaw: return "wav"
        case .flac: return "flac"
        case .ogg: return "ogg"
        case .mp3: return "mp3"
        }
    }

    /// The extension for a reply's `Content-Type` (used when no `--format` was asked for).
    static func fileExtension(forContentType contentType: String?) -> String? {
        guard let contentType else { return nil }
        let mediaType = contentType.split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        switch mediaType {
        case "audio/wav", "audio/wave", "audio/x-wav", "audio/vnd.wave": return "wav"
        case "audio/flac", "audio/x-flac": return "flac"
        case "audio/ogg", "audio/opus": return "ogg"
        case "audio/mpeg", "audio/mp3": return "mp3"
        default: return nil
        }
    }
}
