/// RFC 3403 naming authority pointer.
public struct NAPTRRecord: Hashable, Sendable {
    public var order: UInt16
    public var preference: UInt16
    public var flags: String
    public var service: String
    public var regexp: String
    /// The next name to look up, without the trailing dot ("." when `regexp` is used instead).
    public var replacement: String

    public init(order: UInt16, preference: UInt16, flags: String, service: String, regexp: String, replacement: String) {
        self.order = order
        self.preference = preference
        self.flags = flags
        self.service = service
        self.regexp = regexp
        self.replacement = replacement
    }
}
