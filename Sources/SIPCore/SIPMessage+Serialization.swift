import NIOCore

extension SIPMessage {
    /// Writes the message in wire form. Content-Length is always written and always matches
    /// the body (any Content-Length among the headers is replaced).
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
        for field in headers.fields where field.name != .contentLength {
            buffer.writeString(field.rawName)
            buffer.writeStaticString(": ")
            buffer.writeString(field.value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("Content-Length: ")
        buffer.writeString(String(body?.readableBytes ?? 0))
        buffer.writeStaticString("\r\n\r\n")
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
