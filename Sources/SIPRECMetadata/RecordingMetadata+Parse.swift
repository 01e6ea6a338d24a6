import Foundation

extension RecordingMetadata {
    /// Parses one recording-metadata document (the body of an `application/rs-metadata+xml` or
    /// `application/rs-metadata` part).
    ///
    /// Refused before any XML parsing: documents over `limits.maxBytes`, empty ones, ones that are
    /// not valid UTF-8 (or hold NUL), and any document with a `<!DOCTYPE` or `<!ENTITY` (no DTD, so no
    /// external entities and no entity expansion). Depth and element count are enforced while
    /// parsing. See the type's documentation for the dialects accepted.
    public static func parse(_ bytes: some Collection<UInt8>, limits: MetadataLimits = MetadataLimits()) throws(MetadataParseError) -> RecordingMetadata {
        guard bytes.count <= limits.maxBytes else { throw MetadataParseError(code: .tooLarge) }
        let data = Data(bytes)
        try screen(data)
        let root: MetadataElement
        switch MetadataTreeBuilder.buildTree(from: data, limits: limits) {
        case .success(let element): root = element
        case .failure(let error): throw error
        }
        return try MetadataInterpreter().interpret(root)
    }

    /// Checks that need no parser: non-blank, valid UTF-8 without NUL, and no document type
    /// declaration anywhere. (FoundationXML traps on names that are not valid UTF-8, and
    /// libxml2 in its recovery mode can pass such bytes through: they must never reach it.)
    private static func screen(_ data: Data) throws(MetadataParseError) {
        if String(validating: data, as: UTF8.self) == nil {
            throw MetadataParseError(code: .malformedXML, line: firstInvalidUTF8Line(data))
        }
        let result: MetadataParseError? = data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var line = 1
            var sawContent = false
            for index in bytes.indices {
                switch bytes[index] {
                case 0x00:
                    return MetadataParseError(code: .malformedXML, line: line)
                case 0x0A:
                    line += 1
                case 0x20, 0x09, 0x0D:
                    break
                case UInt8(ascii: "<"):
                    sawContent = true
                    if matches("<!DOCTYPE", in: bytes, at: index) || matches("<!ENTITY", in: bytes, at: index) {
                        return MetadataParseError(code: .doctypeForbidden, line: line)
                    }
                default:
                    sawContent = true
                }
            }
            return sawContent ? nil : MetadataParseError(code: .malformedXML, line: nil)
        }
        if let result { throw result }
    }

    /// The line of the first byte that is not part of valid UTF-8 (only computed for the error).
    private static func firstInvalidUTF8Line(_ data: Data) -> Int {
        var line = 1
        var iterator = data.makeIterator()
        var decoder = UTF8()
        while case .scalarValue(let scalar) = decoder.decode(&iterator) {
            if scalar == "\n" { line += 1 }
        }
        return line
    }

    /// Whether `pattern` (upper-case ASCII) occurs at `index`, ignoring ASCII case.
    private static func matches(_ pattern: StaticString, in bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
        let count = pattern.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        let expected = UnsafeBufferPointer(start: pattern.utf8Start, count: count)
        for offset in 0..<count {
            var byte = bytes[index + offset]
            if byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") { byte -= 0x20 }
            if byte != expected[offset] { return false }
        }
        return true
    }
}
