import CMediaIO

/// The archived file's format (`recording.format`). The spool is always WAV PCM 16-bit;
/// other formats are converted from it through libsndfile when the call ends.
public enum AudioFormat: String, Sendable, CaseIterable {
    case wav = "wav-pcm16"
    case wavULaw = "wav-ulaw"
    case wavALaw = "wav-alaw"
    case flac
    case oggOpus = "ogg-opus"
    case mp3

    public var fileExtension: String {
        switch self {
        case .wav, .wavULaw, .wavALaw: return "wav"
        case .flac: return "flac"
        case .oggOpus: return "opus"
        case .mp3: return "mp3"
        }
    }

    var converterCode: Int32 {
        switch self {
        case .wav: return 0
        case .wavULaw: return 1
        case .wavALaw: return 2
        case .flac: return 3
        case .oggOpus: return 4
        case .mp3: return 5
        }
    }

    public struct ConversionError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Converts a finished WAV file into this format at `destination` (synced).
    public func convert(wav source: String, to destination: String) throws(ConversionError) {
        var message = [CChar](repeating: 0, count: 256)
        guard mio_convert_audio(source, destination, converterCode, &message, 256) == 0 else {
            throw ConversionError(description: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }
}
