/// One XML element of a metadata document, as the parser saw it: namespace-resolved name,
/// attributes in document order, character data and child elements.
///
/// The parser builds the whole document as a tree of these first and interprets it afterwards,
/// so only elements at their schema position (a `<participant>` directly under the root, a
/// `<name>` inside that participant's `<nameID>`) are taken for recording elements; vendor blocks
/// that reuse the same local names deeper down stay extension data. Extension content is kept as
/// these trees, and `xml` gives it back as XML text.
public struct MetadataElement: Sendable, Equatable, Hashable, Codable {
    public struct Attribute: Sendable, Equatable, Hashable, Codable {
        /// The name as written, prefix included (`xml:lang`, `ac:foo`).
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }

        /// The name without a namespace prefix.
        public var localName: String { String(MetadataElement.localPart(of: name)) }
    }

    /// Local name, without prefix (`ucid` for `<apkt:ucid>`).
    public var name: String
    /// Namespace URI; empty when the element is in no namespace.
    public var namespace: String
    public var attributes: [Attribute]
    /// Character data directly inside this element (entity references already decoded).
    public var text: String
    public var children: [MetadataElement]

    public init(name: String, namespace: String = "", attributes: [Attribute] = [], text: String = "", children: [MetadataElement] = []) {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.text = text
        self.children = children
    }

    /// `text` without surrounding white space; nil when nothing is left.
    public var trimmedText: String? {
        let trimmed = text.trimmingXMLWhitespace()
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The value of the first attribute whose local name matches `key` after folding
    /// (case, `-` and `_` ignored: `session_id`, `sessionID` and `session-id` are one key).
    public func attribute(_ keys: String...) -> String? {
        for key in keys {
            let wanted = MetadataElement.fold(key)
            if let found = attributes.first(where: { MetadataElement.name(Self.localPart(of: $0.name), folded: wanted) }) {
                return found.value
            }
        }
        return nil
    }

    /// Direct children whose folded local name is `key`.
    public func children(named key: String) -> [MetadataElement] {
        let wanted = MetadataElement.fold(key)
        return children.filter { MetadataElement.name($0.name, folded: wanted) }
    }

    /// The first direct child whose folded local name is `key`.
    public func child(named key: String) -> MetadataElement? {
        let wanted = MetadataElement.fold(key)
        return children.first { MetadataElement.name($0.name, folded: wanted) }
    }

    /// Every element of this subtree (self included) whose folded local name is `key`, depth first.
    public func descendants(named key: String) -> [MetadataElement] {
        let wanted = MetadataElement.fold(key)
        var found: [MetadataElement] = []
        var stack: [MetadataElement] = [self]
        while let element = stack.popLast() {
            if MetadataElement.name(element.name, folded: wanted) { found.append(element) }
            stack.append(contentsOf: element.children.reversed())
        }
        return found
    }

    /// The local name folded for tolerant matching: lower-cased, without `-` and `_`.
    public var foldedName: String { MetadataElement.fold(name) }

    /// Lower-cases ASCII letters and drops `-` and `_`; other bytes are kept as they are.
    static func fold(_ name: String) -> String {
        let count = name.utf8.count
        return String(unsafeUninitializedCapacity: count) { buffer in
            var length = 0
            for byte in name.utf8 where byte != UInt8(ascii: "-") && byte != UInt8(ascii: "_") {
                buffer[length] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
                length += 1
            }
            return length
        }
    }

    /// Whether `name` folds to `folded` (already folded), without building the folded string.
    static func name(_ name: Substring, folded: String) -> Bool {
        var wanted = folded.utf8.makeIterator()
        for byte in name.utf8 where byte != UInt8(ascii: "-") && byte != UInt8(ascii: "_") {
            let lowered = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            guard wanted.next() == lowered else { return false }
        }
        return wanted.next() == nil
    }

    static func name(_ name: String, folded: String) -> Bool {
        self.name(name[...], folded: folded)
    }

    /// The part of a qualified name after its prefix.
    static func localPart(of name: String) -> Substring {
        guard let colon = name.utf8.lastIndex(of: UInt8(ascii: ":")) else { return name[...] }
        return name[name.index(after: colon)...]
    }
}

extension StringProtocol {
    /// Trims XML white space (space, tab, CR, LF) at both ends.
    func trimmingXMLWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
