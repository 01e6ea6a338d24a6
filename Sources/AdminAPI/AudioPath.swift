import Foundation

/// Where audio may be read from: only files inside the configured roots (archive, spool),
/// after resolving `..` and symbolic links. Paths come from the catalog, never from the request.
enum AudioPath {
    static func resolve(_ path: String, within roots: [URL]) -> URL? {
        let resolved = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath()
        for root in roots {
            let base = root.standardizedFileURL.resolvingSymlinksInPath().path
            let prefix = base.hasSuffix("/") ? base : base + "/"
            if resolved.path.hasPrefix(prefix), FileManager.default.isReadableFile(atPath: resolved.path) { return resolved }
        }
        return nil
    }

    static func size(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size]) as? NSNumber)?.intValue ?? 0
    }

    /// The record's name of an API format (`wav` is `wav-pcm16`, `ogg` is `ogg-opus`).
    static func canonical(_ format: String) -> String {
        switch format {
        case "wav": return "wav-pcm16"
        case "ogg": return "ogg-opus"
        default: return format
        }
    }

    static func mediaType(_ format: String) -> String {
        switch format {
        case "flac": return "audio/flac"
        case "ogg", "opus", "ogg-opus": return "audio/ogg"
        case "mp3": return "audio/mpeg"
        default: return "audio/wav"
        }
    }

    static func fileExtension(_ format: String) -> String {
        switch format {
        case "flac": return "flac"
        case "ogg", "opus", "ogg-opus": return "ogg"
        case "mp3": return "mp3"
        default: return "wav"
        }
    }

    /// The id as a file name: letters, digits, `-` and `_` only.
    static func safeName(_ id: String) -> String {
        String(id.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" }.prefix(128).map(Character.init))
    }
}
