/// Cisco CUBE network-based recording header: `X-Cisco-Recording-Participant: sip:…;media-index="0 2"`
///
/// Pre-SIPREC CUBE names each recorded party this way; `media-index` lists the 0-based m-lines
/// of the INVITE's SDP that carry that party (audio, and video on video calls).
public struct CiscoRecordingParticipant: Sendable, Equatable, Codable {
    /// The party's URI as written.
    public var aor: String
    public var mediaIndices: [Int]

    public init(aor: String, mediaIndices: [Int]) {
        self.aor = aor
        self.mediaIndices = mediaIndices
    }

    /// Nil when the value has no URI or no usable `media-index`.
    public init?(headerValue: String) {
        let value = headerValue.trimmingXMLWhitespace()
        let uri: Substring
        let parameters: Substring
        // name-addr (`"x" <sip:…>;media-index=…`) or a bare addr-spec whose parameters follow it.
        if let open = value.firstIndex(of: "<") {
            guard let close = value[open...].firstIndex(of: ">") else { return nil }
            uri = value[value.index(after: open)..<close]
            parameters = value[value.index(after: close)...]
        } else if let semicolon = value.firstIndex(of: ";") {
            uri = value[..<semicolon]
            parameters = value[semicolon...]
        } else {
            uri = Substring(value)
            parameters = ""
        }
        let aor = String(uri).trimmingXMLWhitespace()
        guard !aor.isEmpty else { return nil }
        var indices: [Int]?
        for parameter in CiscoRecordingParticipant.splitParameters(parameters) {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingXMLWhitespace().lowercased() == "media-index" else { continue }
            var raw = pair[1].trimmingXMLWhitespace()
            if raw.hasPrefix("\""), raw.hasSuffix("\""), raw.count >= 2 { raw = String(raw.dropFirst().dropLast()) }
            let numbers = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map { Int($0) }
            guard !numbers.isEmpty, numbers.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
            indices = numbers.compactMap { $0 }
            break
        }
        guard let indices else { return nil }
        self.aor = aor
        self.mediaIndices = indices
    }

    /// `;a=1;b="x;y"` split at semicolons outside quotes.
    private static func splitParameters(_ text: Substring) -> [String] {
        var parameters: [String] = []
        var current = ""
        var quoted = false
        for character in text {
            if character == "\"" { quoted.toggle() }
            if character == ";" && !quoted {
                if !current.isEmpty { parameters.append(current) }
                current = ""
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { parameters.append(current) }
        return parameters
    }
}
