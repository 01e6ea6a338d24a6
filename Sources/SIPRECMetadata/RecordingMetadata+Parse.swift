import Foundation

extension RecordingMetadata {
    /// Parses one recording-metadata document (the body of an `application/rs-metadata+xml` or
    /// `application/rs-metadata` part).
    ///
    /// Refused before any XML parsing: documents over `limits.maxBytes`, empty ones, ones that are
    /// not UTF-8 (NUL bytes), and any document with a `<!DOCTYPE` or `<!ENTITY` (no DTD, so no
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

    /// Checks that need no parser: non-blank, UTF-8 (no NUL, no UTF-16/32 byte-order mark),
    /// and no document type declaration anywhere.
    private static func screen(_ data: Data) throws(MetadataParseError) {
        var line = 1
        var sawContent = false
        var index = data.startIndex
        let doctype = Array("<!DOCTYPE".utf8)
        let entity = Array("<!ENTITY".utf8)
        if data.count >= 2, (data[index] == 0xFE && data[index + 1] == 0xFF) || (data[index] == 0xFF && data[index + 1] == 0xFE) {
            throw MetadataParseError(code: .malformedXML, line: 1)
        }
        while index < data.endIndex {
            let byte = data[index]
            switch byte {
            case 0x00:
                throw MetadataParseError(code: .malformedXML, line: line)
            case 0x0A:
                line += 1
            case 0x20, 0x09, 0x0D:
                break
            case UInt8(ascii: "<"):
                sawContent = true
                if matches(doctype, in: data, at: index) || matches(entity, in: data, at: index) {
                    throw MetadataParseError(code: .doctypeForbidden, line: line)
                }
            default:
                sawContent = true
            }
            index += 1
        }
        guard sawContent else { throw MetadataParseError(code: .malformedXML, line: nil) }
    }

    /// Whether `pattern` (upper-case ASCII) occurs at `index`, ignoring ASCII case.
    private static func matches(_ pattern: [UInt8], in data: Data, at index: Data.Index) -> Bool {
        guard data.endIndex - index >= pattern.count else { return false }
        for (offset, expected) in pattern.enumerated() {
            var byte = data[index + offset]
            if byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") { byte -= 0x20 }
            if byte != expected { return false }
        }
        return true
    }
}
