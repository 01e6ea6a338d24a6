/// Case-insensitive access to a request's headers. Vendor-id extraction asks for about twenty
/// names, most of them absent: each lookup compares lengths first and then bytes ignoring ASCII
/// case, so an absent name costs no allocation.
struct HeaderLookup {
    private let headers: [(name: String, value: String)]

    init(_ headers: [(name: String, value: String)]) {
        self.headers = headers
    }

    /// The first non-empty value of the header, trimmed.
    func first(_ name: String) -> String? {
        for header in headers where Self.sameName(header.name, name) {
            let value = header.value.trimmingXMLWhitespace()
            if !value.isEmpty { return value }
        }
        return nil
    }

    /// Header names are ASCII tokens (RFC 3261 §25.1); surrounding blanks are ignored.
    static func sameName(_ a: String, _ b: String) -> Bool {
        var left = a.utf8[...]
        while let first = left.first, first == 0x20 || first == 0x09 { left = left.dropFirst() }
        while let last = left.last, last == 0x20 || last == 0x09 { left = left.dropLast() }
        guard left.count == b.utf8.count else { return false }
        for (x, y) in zip(left, b.utf8) where x != y {
            let lowerX = (x >= 0x41 && x <= 0x5A) ? x + 0x20 : x
            let lowerY = (y >= 0x41 && y <= 0x5A) ? y + 0x20 : y
            if lowerX != lowerY { return false }
        }
        return true
    }
}
