import NIOCore

/// One body part of a multipart body (RFC 2046 §5.1).
public struct MIMEPart: Hashable, Sendable {
    public var headers: SIPHeaders
    public var body: ByteBuffer

    public init(headers: SIPHeaders, body: ByteBuffer) {
        self.headers = headers
        self.body = body
    }

    /// The part's media type without parameters, lowercased (`text/plain` when absent, RFC 2046 §5.1).
    public var mediaType: String { MediaType.essence(headers[.contentType] ?? "text/plain") }
    public var contentDisposition: String? { headers[.contentDisposition] }
}

/// Splits multipart bodies liberally, as SRCs in the field send them: the boundary quoted or
/// not, preamble and epilogue, CRLF or bare LF, part Content-Length ignored (delimiters decide),
/// and a missing close delimiter (the last part then runs to the end of the body).
public enum MultipartBody {
    public struct Error: Swift.Error, Hashable, Sendable {
        public enum Code: String, Hashable, Sendable {
            case notMultipart, missingBoundary, noParts, tooManyParts
        }
        public var code: Code
    }

    public static func split(_ body: ByteBuffer, contentType: String, maxParts: Int = 16) throws(Error) -> [MIMEPart] {
        guard MediaType.essence(contentType).hasPrefix("multipart/") else { throw Error(code: .notMultipart) }
        guard let boundaryValue = MediaType.parameter("boundary", in: contentType), !boundaryValue.isEmpty,
              boundaryValue.utf8.count <= 200 else {
            throw Error(code: .missingBoundary)
        }
        let delimiter = Array(("--" + boundaryValue).utf8)
        let result: Result<[MIMEPart], Error> = body.withUnsafeReadableBytes { bytes in
            // Find every delimiter line: "--boundary" at the start of the body or of a line.
            var delimiters: [(lineStart: Int, afterDelimiter: Int, isClose: Bool)] = []
            var index = 0
            while let found = find(delimiter, in: bytes, from: index) {
                index = found + delimiter.count
                let atLineStart = found == 0 || bytes[found - 1] == 0x0A
                guard atLineStart else { continue }
                let isClose = index + 1 < bytes.count && bytes[index] == UInt8(ascii: "-") && bytes[index + 1] == UInt8(ascii: "-")
                delimiters.append((found, index, isClose))
                if isClose { break }
                if delimiters.count > maxParts + 1 { return .failure(Error(code: .tooManyParts)) }
            }
            var parts: [MIMEPart] = []
            for (position, delimiter) in delimiters.enumerated() where !delimiter.isClose {
                // Skip transport padding and the line end after the delimiter.
                var start = delimiter.afterDelimiter
                while start < bytes.count, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
                if start < bytes.count, bytes[start] == 0x0D { start += 1 }
                if start < bytes.count, bytes[start] == 0x0A { start += 1 }
                // The part ends before the line end that precedes the next delimiter.
                var end = bytes.count
                if position + 1 < delimiters.count {
                    end = delimiters[position + 1].lineStart
                    if end > start, bytes[end - 1] == 0x0A { end -= 1 }
                    if end > start, bytes[end - 1] == 0x0D { end -= 1 }
                }
                guard start <= end else { continue }
                let partBytes = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                var headers = SIPHeaders()
                var bodyOffset = 0
                if !partBytes.isEmpty, partBytes[0] == 0x0A || (partBytes[0] == 0x0D && partBytes.count > 1 && partBytes[1] == 0x0A) {
                    // No part headers: the blank line comes first.
                    bodyOffset = partBytes[0] == 0x0A ? 1 : 2
                } else if let headerEnd = SIPMessageParser.findHeaderEnd(partBytes, from: 0, limit: partBytes.count) {
                    headers = SIPMessageParser().parseHead(prependingStartLine: UnsafeRawBufferPointer(rebasing: partBytes[0..<headerEnd.headEnd])).headers
                    bodyOffset = headerEnd.bodyStart
                } else {
                    // Headers only, or a body without headers: treat a line that looks like a
                    // header as headers, anything else as body.
                    headers = SIPMessageParser().parseHead(prependingStartLine: partBytes).headers
                    bodyOffset = headers.count > 0 ? partBytes.count : 0
                }
                let partBody = body.getSlice(at: body.readerIndex + start + bodyOffset, length: max(0, end - start - bodyOffset)) ?? ByteBuffer()
                parts.append(MIMEPart(headers: headers, body: partBody))
            }
            return .success(parts)
        }
        let parts = try result.get()
        guard !parts.isEmpty else { throw Error(code: .noParts) }
        return parts
    }

    static func find(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var index = from
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first {
                var matched = true
                for offset in 1..<needle.count where haystack[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }
}

/// Helpers for media type header values (`type/subtype; param=value`).
public enum MediaType {
    /// `type/subtype`, lowercased, without parameters.
    public static func essence(_ value: String) -> String {
        let main = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return main.trimmingSIPWhitespace().lowercased()
    }

    /// A parameter's value with quotes removed.
    public static func parameter(_ name: String, in value: String) -> String? {
        guard let semicolon = value.firstIndex(of: ";") else { return nil }
        let parameters = [SIPParameter].parse(value[semicolon...])
        guard case .some(.some(var found)) = parameters.parameter(name) else { return nil }
        if found.hasPrefix("\""), found.hasSuffix("\""), found.count >= 2 {
            found = String(found.dropFirst().dropLast())
        }
        return found
    }
}

extension SIPMessageParser {
    /// Parses header lines that have no start line before them (MIME part headers).
    func parseHead(prependingStartLine lines: UnsafeRawBufferPointer) -> ParsedHead {
        var bytes: [UInt8] = Array("X / SIP/2.0\r\n".utf8)
        bytes.append(contentsOf: lines)
        return bytes.withUnsafeBytes { parseHead($0) }
    }
}
