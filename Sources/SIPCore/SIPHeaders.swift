/// One header line as received: the name as written (kept for serialization) and its
/// value with folding removed and surrounding whitespace trimmed.
public struct SIPHeaderField: Hashable, Sendable {
    public var name: SIPHeaderName
    public var rawName: String
    public var value: String

    public init(name: SIPHeaderName, value: String) {
        self.name = name
        self.rawName = name.canonical
        self.value = value
    }

    public init(rawName: String, value: String) {
        self.name = SIPHeaderName(rawName)
        self.rawName = rawName
        self.value = value
    }

    init(name: SIPHeaderName, rawName: String, value: String) {
        self.name = name
        self.rawName = rawName
        self.value = value
    }
}

/// Ordered header fields. Order is preserved (RFC 3261 §7.3.1: the relative order of
/// fields with the same name is significant) and unknown headers are kept verbatim.
public struct SIPHeaders: Hashable, Sendable, Sequence {
    public private(set) var fields: [SIPHeaderField]

    public init() { fields = [] }
    public init(_ fields: [SIPHeaderField]) { self.fields = fields }

    public var count: Int { fields.count }
    public func makeIterator() -> IndexingIterator<[SIPHeaderField]> { fields.makeIterator() }

    /// The first value of a header, or nil.
    public subscript(name: SIPHeaderName) -> String? {
        for field in fields where field.name == name { return field.value }
        return nil
    }

    public func contains(_ name: SIPHeaderName) -> Bool {
        fields.contains { $0.name == name }
    }

    /// Every field value of `name` in order, as written (not split on commas).
    public func fieldValues(_ name: SIPHeaderName) -> [String] {
        fields.compactMap { $0.name == name ? $0.value : nil }
    }

    /// Every element of a list header (Via, Route, Contact, Supported...): repeated fields
    /// and comma-separated values both count (RFC 3261 §7.3.1).
    public func values(_ name: SIPHeaderName) -> [String] {
        var result: [String] = []
        for field in fields where field.name == name {
            result.append(contentsOf: SIPHeaders.splitList(field.value))
        }
        return result
    }

    /// The first element of a list header (e.g. the topmost Via).
    public func firstValue(_ name: SIPHeaderName) -> String? {
        for field in fields where field.name == name {
            // Most fields hold one value: skip the split when there is no comma at all.
            if !field.value.utf8.contains(UInt8(ascii: ",")) {
                if !field.value.isEmpty { return field.value }
                continue
            }
            if let first = SIPHeaders.splitList(field.value).first { return first }
        }
        return nil
    }

    public mutating func reserveCapacity(_ count: Int) { fields.reserveCapacity(count) }

    /// Replaces the first Via value (which may share a field with others).
    mutating func replaceTopVia(with value: String) {
        guard let index = fields.firstIndex(where: { $0.name == .via }) else { return }
        if !fields[index].value.utf8.contains(UInt8(ascii: ",")) {
            fields[index].value = value
            return
        }
        var values = SIPHeaders.splitList(fields[index].value)
        guard !values.isEmpty else { return }
        values[0] = value
        fields[index].value = values.joined(separator: ", ")
    }

    public mutating func add(_ name: SIPHeaderName, _ value: String) {
        fields.append(SIPHeaderField(name: name, value: value))
    }

    public mutating func add(_ field: SIPHeaderField) { fields.append(field) }

    /// Replaces every field of `name` by one field, at the position of the first.
    public mutating func set(_ name: SIPHeaderName, _ value: String) {
        if let index = fields.firstIndex(where: { $0.name == name }) {
            fields[index].value = value
            var position = 0
            fields.removeAll { field in
                defer { position += 1 }
                return position > index && field.name == name
            }
        } else {
            add(name, value)
        }
    }

    public mutating func remove(_ name: SIPHeaderName) {
        fields.removeAll { $0.name == name }
    }

    /// Splits a header value on commas that are outside quoted strings and angle brackets.
    public static func splitList(_ value: String) -> [String] {
        var result: [String] = []
        var inQuotes = false
        var angle = 0
        var escaped = false
        var start = value.utf8.startIndex
        var index = start
        let utf8 = value.utf8
        while index != utf8.endIndex {
            let byte = utf8[index]
            if escaped {
                escaped = false
            } else if inQuotes {
                if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inQuotes = false }
            } else {
                switch byte {
                case UInt8(ascii: "\""): inQuotes = true
                case UInt8(ascii: "<"): angle += 1
                case UInt8(ascii: ">"): angle = Swift.max(0, angle - 1)
                case UInt8(ascii: ","):
                    if angle == 0 {
                        let part = Substring(value.utf8[start..<index]).trimmingSIPWhitespace()
                        if !part.isEmpty { result.append(String(part)) }
                        start = utf8.index(after: index)
                    }
                default: break
                }
            }
            index = utf8.index(after: index)
        }
        let last = Substring(value.utf8[start..<utf8.endIndex]).trimmingSIPWhitespace()
        if !last.isEmpty { result.append(String(last)) }
        return result
    }
}

extension StringProtocol {
    /// Trims SP, HTAB, CR and LF from both ends.
    func trimmingSIPWhitespace() -> Substring {
        var sub = Substring(self)
        while let first = sub.utf8.first, first == 0x20 || first == 0x09 || first == 0x0D || first == 0x0A {
            sub = sub.dropFirst()
        }
        while let last = sub.utf8.last, last == 0x20 || last == 0x09 || last == 0x0D || last == 0x0A {
            sub = sub.dropLast()
        }
        return sub
    }
}
