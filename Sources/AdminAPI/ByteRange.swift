import Foundation

/// An HTTP `Range: bytes=…` request (RFC 9110 §14.1.2) resolved against a length. Only a single
/// range is served; a request for several gets the whole body (a server may ignore Range).
public enum ByteRange: Equatable, Sendable {
    /// No usable Range header: send everything.
    case whole
    case partial(ClosedRange<Int>)
    /// 416: nothing of the body is in the range.
    case unsatisfiable

    public static func resolve(_ header: String?, length: Int) -> ByteRange {
        guard let header else { return .whole }
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = trimmed.dropFirst("bytes=".count)
        guard !spec.contains(",") else { return .whole }
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .whole }
        let first = parts[0].trimmingCharacters(in: .whitespaces)
        let last = parts[1].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            // Suffix: the last N bytes.
            guard let count = Int(last), count >= 0 else { return .whole }
            guard count > 0, length > 0 else { return .unsatisfiable }
            return .partial(max(0, length - count)...(length - 1))
        }
        guard let start = Int(first), start >= 0 else { return .whole }
        guard start < length else { return .unsatisfiable }
        if last.isEmpty { return .partial(start...(length - 1)) }
        guard let end = Int(last), end >= start else { return .whole }
        return .partial(start...min(end, length - 1))
    }
}

