import NIOCore

/// Frames SIP messages on a byte stream (TCP, TLS) by Content-Length (RFC 3261 §18.3),
/// incrementally: feed it the connection's buffer, it consumes whole messages.
public struct SIPStreamFramer: Sendable {
    public enum Frame: Hashable, Sendable {
        case needMoreData
        case message(SIPMessage)
        /// RFC 5626 §3.5.1: a double-CRLF "ping"; answer with a single CRLF "pong".
        case keepAlivePing
        /// A message whose framing was intact but whose content was not: it has been
        /// consumed, the connection can go on, and the error can be answered.
        case invalidMessage(SIPParseError)
    }

    /// The connection cannot be resynchronised after this error; answer if possible, then close.
    public struct FatalError: Error, Hashable, Sendable {
        public var parseError: SIPParseError
    }

    public var parser: SIPMessageParser
    private var scannedUpTo = 0
    /// A CRLF was just consumed: another one now completes a keep-alive ping.
    private var pendingCRLF = false

    public init(parser: SIPMessageParser = SIPMessageParser()) {
        self.parser = parser
    }

    /// Returns the next frame from `buffer`, consuming its bytes.
    public mutating func next(_ buffer: inout ByteBuffer) throws(FatalError) -> Frame {
        // Leading CRLFs (RFC 5626 §3.5.1): a double CRLF is a ping, a single one a pong. A CRLF
        // is consumed as soon as it arrives (so it never looks like a stalled message); a second
        // one right after it makes the pair a ping.
        while let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), first == 0x0D || first == 0x0A {
            if first == 0x0D {
                guard let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) else { return .needMoreData }
                buffer.moveReaderIndex(forwardBy: second == 0x0A ? 2 : 1)
                guard second == 0x0A else { continue }
                if pendingCRLF {
                    pendingCRLF = false
                    scannedUpTo = 0
                    return .keepAlivePing
                }
                pendingCRLF = true
            } else {
                buffer.moveReaderIndex(forwardBy: 1)
            }
        }
        if buffer.readableBytes > 0 { pendingCRLF = false }
        if buffer.readableBytes == 0 { return .needMoreData }

        let limits = parser.limits
        let scanFrom = max(0, scannedUpTo - 3)
        let outcome: Outcome = buffer.withUnsafeReadableBytes { bytes in
            guard let end = SIPMessageParser.findHeaderEnd(bytes, from: scanFrom, limit: limits.maxHeaderSectionSize + 4) else {
                if bytes.count > limits.maxHeaderSectionSize {
                    let head = parser.parseHead(UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, limits.maxHeaderSectionSize)]))
                    return .fatal(head.error(.messageTooLarge))
                }
                return .incomplete(scanned: bytes.count)
            }
            let head = parser.parseHead(UnsafeRawBufferPointer(rebasing: bytes[0..<end.headEnd]))
            guard let lengthText = head.headers[.contentLength] else {
                // RFC 3261 §18.3: Content-Length is mandatory on a stream.
                return .fatal(head.error(.missingContentLength, header: "Content-Length"))
            }
            guard let length = SIPMessageParser.parseContentLength(lengthText) else {
                return .fatal(head.error(.invalidContentLength, header: "Content-Length"))
            }
            guard end.bodyStart + length <= limits.maxMessageSize else {
                return .fatal(head.error(.messageTooLarge))
            }
            guard bytes.count >= end.bodyStart + length else {
                return .incomplete(scanned: end.headEnd)
            }
            return .complete(head: head, bodyStart: end.bodyStart, length: length)
        }
        switch outcome {
        case .incomplete(let scanned):
            scannedUpTo = scanned
            return .needMoreData
        case .fatal(let error):
            scannedUpTo = 0
            throw FatalError(parseError: error)
        case .complete(let head, let bodyStart, let length):
            scannedUpTo = 0
            // Copied out so a stored request never pins the connection's cumulation buffer.
            let body = length > 0 ? buffer.getSlice(at: buffer.readerIndex + bodyStart, length: length).map { ByteBuffer(buffer: $0) } : nil
            buffer.moveReaderIndex(forwardBy: bodyStart + length)
            do {
                return .message(try parser.finish(head, body: body))
            } catch {
                return .invalidMessage(error)
            }
        }
    }

    private enum Outcome {
        case incomplete(scanned: Int)
        case fatal(SIPParseError)
        case complete(head: SIPMessageParser.ParsedHead, bodyStart: Int, length: Int)
    }
}
