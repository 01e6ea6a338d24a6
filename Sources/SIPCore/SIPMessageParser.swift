import NIOCore

/// Parses SIP messages from bytes (RFC 3261 §7). A plain value: no I/O, no state besides limits.
/// Datagrams carry one message each (§18.3); streams are framed by `SIPStreamFramer`.
public struct SIPMessageParser: Sendable {
    public var limits: SIPParserLimits

    public init(limits: SIPParserLimits = SIPParserLimits()) {
        self.limits = limits
    }

    /// What a datagram turned out to be.
    public enum DatagramContent: Hashable, Sendable {
        case message(SIPMessage)
        /// Only CRLFs: an RFC 5626 keep-alive.
        case keepAlive
    }

    /// Parses one UDP datagram.
    public func parse(datagram: ByteBuffer) throws(SIPParseError) -> DatagramContent {
        let result: Result<DatagramContent, SIPParseError> = datagram.withUnsafeReadableBytes { bytes in
            var start = 0
            // RFC 3261 §7.5: ignore CRLFs before the start line.
            while start < bytes.count, bytes[start] == 0x0D || bytes[start] == 0x0A { start += 1 }
            if start == bytes.count { return .success(.keepAlive) }
            let headerEnd = SIPMessageParser.findHeaderEnd(bytes, from: start, limit: bytes.count)
            let headEnd = headerEnd?.headEnd ?? bytes.count
            let bodyStart = headerEnd?.bodyStart ?? bytes.count
            let head = parseHead(UnsafeRawBufferPointer(rebasing: bytes[start..<headEnd]))
            if datagram.readableBytes > limits.maxMessageSize {
                return .failure(head.error(.messageTooLarge))
            }
            var bodyLength = bytes.count - bodyStart
            if let lengthText = head.headers[.contentLength] {
                guard let declared = SIPMessageParser.parseContentLength(lengthText) else {
                    return .failure(head.error(.invalidContentLength, header: "Content-Length"))
                }
                // RFC 3261 §18.3: a datagram shorter than Content-Length is rejected with 400;
                // bytes beyond it are discarded.
                if declared > bodyLength {
                    return .failure(head.error(.bodyTruncated, header: "Content-Length"))
                }
                bodyLength = declared
            }
            // The body is copied out so a stored request never pins the (large) receive buffer.
            var body: ByteBuffer?
            if bodyLength > 0 {
                var copy = ByteBufferAllocator().buffer(capacity: bodyLength)
                copy.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<(bodyStart + bodyLength)]))
                body = copy
            }
            return Result { () throws(SIPParseError) -> DatagramContent in .message(try finish(head, body: body)) }
        }
        return try result.get()
    }

    // MARK: - Head

    struct StartLine {
        var method: SIPMethod?
        var uri: SIPURI?
        var statusCode: Int = 0
        var reasonPhrase: String = ""
    }

    struct ParsedHead {
        var startLine = StartLine()
        var startLineError: SIPParseError.Code?
        var headerError: SIPParseError?
        var headers = SIPHeaders()
        var looksLikeRequest = true

        /// An error that carries what was read, so a response can still be built and routed.
        func error(_ code: SIPParseError.Code, header: String? = nil) -> SIPParseError {
            var error = SIPParseError(code, header: header, partialHeaders: headers, looksLikeRequest: looksLikeRequest)
            error.requestMethod = startLine.method
            return error
        }
    }

    /// Finds the blank line that ends the header section: returns the end of the last header
    /// line and the start of the body. Accepts CRLF and bare LF line ends.
    static func findHeaderEnd(_ bytes: UnsafeRawBufferPointer, from: Int, limit: Int) -> (headEnd: Int, bodyStart: Int)? {
        var index = from
        let end = min(limit, bytes.count)
        while index < end {
            guard bytes[index] == 0x0A else { index += 1; continue }
            if index + 1 < bytes.count, bytes[index + 1] == 0x0A { return (index, index + 2) }
            if index + 2 < bytes.count, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A { return (index, index + 3) }
            index += 1
        }
        return nil
    }

    static func parseContentLength(_ text: String) -> Int? {
        let trimmed = text.trimmingSIPWhitespace()
        guard !trimmed.isEmpty, trimmed.utf8.count <= 9, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(trimmed)
    }

    func parseHead(_ bytes: UnsafeRawBufferPointer) -> ParsedHead {
        var head = ParsedHead()
        head.headers.reserveCapacity(32)
        var lineStart = 0
        var isFirstLine = true
        var pendingName: SIPHeaderField?
        var folded: [UInt8]?

        func flush() {
            guard var field = pendingName else { return }
            if let folded { field.value = String(decoding: folded, as: UTF8.self) }
            head.headers.add(field)
            pendingName = nil
            folded = nil
        }

        while lineStart < bytes.count {
            // One pass finds the line end and any control character (NUL, bare CR, ...):
            // HTAB is allowed, and CR only right before the LF.
            var lineEnd = lineStart
            var hasControl = false
            while lineEnd < bytes.count {
                let byte = bytes[lineEnd]
                if byte == 0x0A { break }
                if (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                    if !(byte == 0x0D && (lineEnd + 1 == bytes.count || bytes[lineEnd + 1] == 0x0A)) { hasControl = true }
                }
                lineEnd += 1
            }
            let nextLine = lineEnd + 1
            if lineEnd > lineStart, bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd])
            lineStart = nextLine
            if isFirstLine {
                isFirstLine = false
                if hasControl {
                    head.startLineError = .malformedStartLine
                } else {
                    parseStartLine(line, into: &head)
                }
                continue
            }
            if line.isEmpty { continue }
            if hasControl {
                if head.headerError == nil { head.headerError = SIPParseError(.malformedHeader) }
                continue
            }
            if line[0] == 0x20 || line[0] == 0x09 {
                // RFC 3261 §7.3.1: a line starting with whitespace continues the previous value.
                guard let pending = pendingName else {
                    if head.headerError == nil { head.headerError = SIPParseError(.malformedHeader) }
                    continue
                }
                if folded == nil { folded = Array(pending.value.utf8) }
                let trimmed = SIPMessageParser.trim(line)
                if !trimmed.isEmpty {
                    if !(folded?.isEmpty ?? true) { folded?.append(0x20) }
                    folded?.append(contentsOf: trimmed)
                }
                continue
            }
            flush()
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                if head.headerError == nil { head.headerError = SIPParseError(.malformedHeader) }
                continue
            }
            var nameEnd = colon
            while nameEnd > 0, line[nameEnd - 1] == 0x20 || line[nameEnd - 1] == 0x09 { nameEnd -= 1 }
            let nameBytes = UnsafeRawBufferPointer(rebasing: line[0..<nameEnd])
            guard !nameBytes.isEmpty, nameBytes.allSatisfy(SIPGrammar.isTokenByte) else {
                if head.headerError == nil { head.headerError = SIPParseError(.malformedHeader) }
                continue
            }
            if head.headers.count >= limits.maxHeaderCount {
                if head.headerError == nil { head.headerError = SIPParseError(.tooManyHeaders) }
                break
            }
            let value = String(decoding: SIPMessageParser.trim(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...])), as: UTF8.self)
            if let known = SIPHeaderName.known(nameBytes) {
                // The canonical spelling is a static string: no allocation for the usual case.
                let rawName = known.spelledCanonically ? known.name.canonical : String(decoding: nameBytes, as: UTF8.self)
                pendingName = SIPHeaderField(name: known.name, rawName: rawName, value: value)
            } else {
                pendingName = SIPHeaderField(rawName: String(decoding: nameBytes, as: UTF8.self), value: value)
            }
        }
        flush()
        return head
    }

    static func trim(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    private static let sipSlash: [UInt8] = Array("SIP/".utf8)

    static func hasSIPPrefix(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 4 else { return false }
        for i in 0..<4 where (bytes[i] | (i < 3 ? 0x20 : 0)) != (sipSlash[i] | (i < 3 ? 0x20 : 0)) { return false }
        return true
    }

    static func isVersion20(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count == 7 && hasSIPPrefix(bytes) && bytes[4] == UInt8(ascii: "2") && bytes[5] == UInt8(ascii: ".") && bytes[6] == UInt8(ascii: "0")
    }

    func parseStartLine(_ line: UnsafeRawBufferPointer, into head: inout ParsedHead) {
        if SIPMessageParser.hasSIPPrefix(line) {
            // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
            head.looksLikeRequest = false
            guard let space = line.firstIndex(of: 0x20) else { head.startLineError = .malformedStartLine; return }
            let version = UnsafeRawBufferPointer(rebasing: line[0..<space])
            guard SIPMessageParser.isVersion20(version) else { head.startLineError = .unsupportedVersion; return }
            let rest = UnsafeRawBufferPointer(rebasing: line[(space + 1)...])
            guard rest.count >= 3, rest[0] >= UInt8(ascii: "1"), rest[0] <= UInt8(ascii: "6"),
                  rest[1] >= 0x30, rest[1] <= 0x39, rest[2] >= 0x30, rest[2] <= 0x39,
                  rest.count == 3 || rest[3] == 0x20 else {
                head.startLineError = .invalidStatusCode
                return
            }
            head.startLine.statusCode = Int(rest[0] - 0x30) * 100 + Int(rest[1] - 0x30) * 10 + Int(rest[2] - 0x30)
            head.startLine.reasonPhrase = rest.count > 4 ? String(decoding: rest[4...], as: UTF8.self) : ""
            return
        }
        // Request-Line = Method SP Request-URI SP SIP-Version
        guard let firstSpace = line.firstIndex(of: 0x20),
              let lastSpace = line.lastIndex(of: 0x20), lastSpace > firstSpace else {
            head.startLineError = .malformedStartLine
            return
        }
        let method = UnsafeRawBufferPointer(rebasing: line[0..<firstSpace])
        let version = UnsafeRawBufferPointer(rebasing: line[(lastSpace + 1)...])
        guard !method.isEmpty, method.allSatisfy(SIPGrammar.isTokenByte) else {
            head.startLineError = .malformedStartLine
            return
        }
        guard SIPMessageParser.isVersion20(version) else {
            head.startLineError = SIPMessageParser.hasSIPPrefix(version) ? .unsupportedVersion : .malformedStartLine
            return
        }
        head.startLine.method = SIPMethod(String(decoding: method, as: UTF8.self))
        let uriBytes = UnsafeRawBufferPointer(rebasing: line[(firstSpace + 1)..<lastSpace])
        guard !uriBytes.isEmpty, !uriBytes.contains(0x20),
              let uri = try? SIPURI(parsing: String(decoding: uriBytes, as: UTF8.self)) else {
            head.startLineError = .invalidRequestURI
            return
        }
        head.startLine.uri = uri
    }

    // MARK: - Validation

    /// Turns a parsed head and body into a message, checking what RFC 3261 §8.1.1 requires.
    func finish(_ head: ParsedHead, body: ByteBuffer?) throws(SIPParseError) -> SIPMessage {
        let headers = head.headers
        if let code = head.startLineError { throw head.error(code) }
        if var error = head.headerError {
            error.partialHeaders = headers
            error.looksLikeRequest = head.looksLikeRequest
            error.requestMethod = head.startLine.method
            throw error
        }
        func fail(_ code: SIPParseError.Code, _ header: String) -> SIPParseError { head.error(code, header: header) }
        guard let callID = headers[.callID], !callID.isEmpty else { throw fail(.missingHeader, "Call-ID") }
        guard let cseqText = headers[.cseq] else { throw fail(.missingHeader, "CSeq") }
        guard let cseq = try? SIPCSeq(parsing: cseqText) else { throw fail(.invalidCSeq, "CSeq") }
        guard let fromText = headers[.from] else { throw fail(.missingHeader, "From") }
        guard let from = try? SIPAddress(parsing: fromText) else { throw fail(.invalidAddress, "From") }
        guard let toText = headers[.to] else { throw fail(.missingHeader, "To") }
        guard let to = try? SIPAddress(parsing: toText) else { throw fail(.invalidAddress, "To") }
        guard let viaText = headers.firstValue(.via) else { throw fail(.missingHeader, "Via") }
        guard let via = try? SIPVia(parsing: viaText) else { throw fail(.invalidVia, "Via") }
        let parsed = SIPParsedFields(callID: callID, cseq: cseq, from: from, to: to, topVia: via)
        if let method = head.startLine.method, let uri = head.startLine.uri {
            // RFC 3261 §8.1.1.5: the CSeq method matches the request method.
            guard cseq.method == method else { throw fail(.invalidCSeq, "CSeq") }
            var request = SIPRequest(method: method, uri: uri, headers: headers, body: body)
            request.parsedFields = parsed
            return .request(request)
        }
        var response = SIPResponse(statusCode: head.startLine.statusCode, reasonPhrase: head.startLine.reasonPhrase,
                                   headers: headers, body: body)
        response.parsedFields = parsed
        return .response(response)
    }
}
