import NIOCore

extension SIPMessage {
    /// Writes the message in wire form. Content-Length is always written and always matches
    /// the body: an existing one keeps its place and spelling, otherwise it goes last.
    public func write(into buffer: inout ByteBuffer) {
        switch self {
        case .request(let request): request.write(into: &buffer)
        case .response(let response): response.write(into: &buffer)
        }
    }

    public func serialized() -> ByteBuffer {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return buffer
    }
}

extension SIPRequest {
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeString(method.rawValue)
        buffer.writeStaticString(" ")
        buffer.writeString(uri.description)
        buffer.writeStaticString(" SIP/2.0\r\n")
        SIPRequest.writeHeadersAndBody(headers, body, into: &buffer)
    }

    public func serialized() -> ByteBuffer {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return buffer
    }

    static func writeHeadersAndBody(_ headers: SIPHeaders, _ body: ByteBuffer?, into buffer: inout ByteBuffer) {
        let length = String(body?.readableBytes ?? 0)
        var wroteLength = false
        for field in headers.fields {
            if field.name == .contentLength {
                // Kept where it stood and as it was spelled, but always true to the body.
                guard !wroteLength else { continue }
                wroteLength = true
                buffer.writeString(field.rawName)
                buffer.writeStaticString(": ")
                buffer.writeString(length)
                buffer.writeStaticString("\r\n")
                continue
            }
            buffer.writeString(field.rawName)
            buffer.writeStaticString(": ")
            buffer.writeString(field.value)
            buffer.writeStaticString("\r\n")
        }
        if !wroteLength {
            buffer.writeStaticString("Content-Length: ")
            buffer.writeString(length)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
        if let body { buffer.writeImmutableBuffer(body) }
    }
}

extension SIPResponse {
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("SIP/2.0 ")
        buffer.writeString(String(statusCode))
        buffer.writeStaticString(" ")
        buffer.writeString(reasonPhrase)
        buffer.writeStaticString("\r\n")
        SIPRequest.writeHeadersAndBody(headers, body, into: &buffer)
    }

    public func serialized() -> ByteBuffer {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return buffer
    }
}
