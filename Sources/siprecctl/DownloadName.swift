import Foundation

/// The file name `download` writes when no `-o` is given: `<id>.<ext>`, the extension from
/// `--format`, else from the reply's Content-Type, else from its Content-Disposition
/// filename, else `wav`. Only the extension is taken from the server, never a path.
enum DownloadName {
    static func defaultFileName(recordingID: String, format: AudioFormat?, contentType: String?,
                                contentDisposition: String?) -> String {
        let fileExtension = format?.fileExtension
            ?? AudioFormat.fileExtension(forContentType: contentType)
            ?? dispositionExtension(contentDisposition)
            ?? "wav"
        return safeStem(recordingID) + "." + fileExtension
    }

    /// `attachment; filename="0193.flac"` → `flac` (letters and digits only, up to 5).
    static func dispositionExtension(_ header: String?) -> String? {
        guard let header, let range = header.range(of: "filename=", options: .caseInsensitive) else { return nil }
        var name = header[range.upperBound...].prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces)
        if name.hasPrefix("\"") { name = String(name.dropFirst().prefix { $0 != "\"" }) }
        guard let dot = name.lastIndex(of: ".") else { return nil }
        let candidate = name[name.index(after: dot)...].lowercased()
        guard (1...5).contains(candidate.count), candidate.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            return nil
        }
        return candidate
    }

    /// An id as a file name: path separators and leading dots replaced.
    static func safeStem(_ id: String) -> String {
        var stem = String(id.map { $0 == "/" || $0 == "\\" || $0.isNewline ? "_" : $0 })
        while stem.hasPrefix(".") { stem = "_" + stem.dropFirst() }
        return stem.isEmpty ? "recording" : stem
    }
}
