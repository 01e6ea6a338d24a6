/// Why an answer could not be read. The query it answered fails; nothing else is affected.
public struct DNSParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// The message ends before a header, name, record or field it announces.
        case truncated
        /// A label with a reserved type (RFC 1035 §4.1.4: the top bits 01 or 10).
        case invalidLabel
        /// A name longer than 255 octets (RFC 1035 §2.3.4).
        case nameTooLong
        /// A compression pointer that does not point strictly before the name that uses it,
        /// so it could loop.
        case invalidPointer
        /// Record data whose length does not fit its type.
        case invalidRecordData
        /// Not a response (QR bit clear).
        case notAResponse
    }

    public var code: Code
    /// Byte offset in the message where the problem was found.
    public var offset: Int

    public init(_ code: Code, offset: Int) {
        self.code = code
        self.offset = offset
    }

    public var description: String { "DNS answer unreadable: \(code.rawValue) at byte \(offset)" }
}
