/// Why a recording-metadata document was refused.
///
/// The description carries the code and the line only, never text from the document: metadata
/// holds names and numbers of callers, which must not reach logs above debug level.
public struct MetadataParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// Larger than `MetadataLimits.maxBytes`.
        case tooLarge
        /// Nesting deeper than `MetadataLimits.maxDepth`.
        case tooDeep
        /// More elements than `MetadataLimits.maxElements`.
        case tooManyElements
        /// The document has a document type declaration (refused: no DTDs, no entities).
        case doctypeForbidden
        /// Not well-formed XML, empty, or not UTF-8.
        case malformedXML
        /// Well-formed XML whose root is not a recording-metadata element.
        case notRecordingMetadata
    }

    public var code: Code
    /// 1-based line of the document where the problem was found, when known.
    public var line: Int?

    public init(code: Code, line: Int? = nil) {
        self.code = code
        self.line = line
    }

    public var description: String {
        if let line { return "MetadataParseError(\(code.rawValue), line \(line))" }
        return "MetadataParseError(\(code.rawValue))"
    }
}
