/// Bounds applied to one recording-metadata document before and while it is parsed.
///
/// The defaults are far above what any SRC sends (a two-party call is 1–4 KB, a large conference
/// a few tens of KB) and low enough that a hostile peer cannot make one request expensive.
public struct MetadataLimits: Sendable, Equatable {
    /// Largest document accepted, in bytes; checked before the XML parser sees anything.
    public var maxBytes: Int = 262_144
    /// Deepest element nesting accepted (the RFC 7865 schema needs 4; vendor extensions add a few).
    public var maxDepth: Int = 32
    /// Most elements accepted in one document.
    public var maxElements: Int = 20_000

    public init(maxBytes: Int = 262_144, maxDepth: Int = 32, maxElements: Int = 20_000) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxElements = maxElements
    }
}
