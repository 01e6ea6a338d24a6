/// Case-insensitive access to a request's headers.
struct HeaderLookup {
    private let headers: [(name: String, value: String)]

    init(_ headers: [(name: String, value: String)]) {
        self.headers = headers
    }

    /// The first non-empty value of the header, trimmed.
    func first(_ name: String) -> String? {
        let wanted = name.lowercased()
        for header in headers where header.name.trimmingXMLWhitespace().lowercased() == wanted {
            let value = header.value.trimmingXMLWhitespace()
            if !value.isEmpty { return value }
        }
        return nil
    }
}
