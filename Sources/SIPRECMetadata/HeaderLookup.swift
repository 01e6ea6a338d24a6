/// Case-insensitive access to a request's headers: one pass to index them by lower-cased name,
/// then each lookup is a dictionary hit (vendor-id extraction asks for about twenty names).
struct HeaderLookup {
    private var firstValues: [String: String] = [:]

    init(_ headers: [(name: String, value: String)]) {
        for header in headers {
            let name = header.name.trimmingXMLWhitespace().lowercased()
            guard firstValues[name] == nil else { continue }
            let value = header.value.trimmingXMLWhitespace()
            if !value.isEmpty { firstValues[name] = value }
        }
    }

    /// The first non-empty value of the header, trimmed.
    func first(_ name: String) -> String? {
        firstValues[name.lowercased()]
    }
}
