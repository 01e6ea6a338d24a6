/// The output of `metadata`: each version's header line, then its XML as received.
enum MetadataView {
    static func render(_ history: MetadataHistory) -> String {
        let versions = history.versions ?? []
        var lines: [String] = []
        if versions.isEmpty { lines.append("No metadata received.") }
        for (index, version) in versions.enumerated() {
            if index > 0 { lines.append("") }
            var header = "# Version \(index + 1) of \(versions.count): \(UTCTimestamp.display(version.receivedAt)) UTC"
            if let method = version.method { header += ", \(method)" }
            if let dataMode = version.dataMode { header += ", data mode \(dataMode)" }
            if let dialect = version.dialect { header += ", dialect \(dialect)" }
            lines.append(header)
            if let error = version.error, !error.isEmpty { lines.append("# Not parsed: \(error)") }
            let xml = version.xml ?? ""
            lines.append(xml.hasSuffix("\n") ? String(xml.dropLast()) : xml)
        }
        if let dropped = history.dropped, dropped > 0 {
            lines.append("")
            lines.append("# \(dropped) version\(dropped == 1 ? "" : "s") between the first and the kept latest ones not kept by the server.")
        }
        return lines.joined(separator: "\n")
    }
}
