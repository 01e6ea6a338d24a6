/// A party of a recording or live call as the API lists it.
struct Participant: Decodable, Sendable, Equatable {
    var aor: String?
    var name: String?
    var role: String?

    init(aor: String? = nil, name: String? = nil, role: String? = nil) {
        self.aor = aor
        self.name = name
        self.role = role
    }

    /// The user part of a SIP/TEL AOR: `sip:+15551230001@example.com` → `+15551230001`.
    var aorUser: String? {
        guard var text = aor, !text.isEmpty else { return nil }
        if let angle = text.firstIndex(of: "<"), let close = text.lastIndex(of: ">"), angle < close {
            text = String(text[text.index(after: angle)..<close])
        }
        if let colon = text.firstIndex(of: ":") { text = String(text[text.index(after: colon)...]) }
        if let at = text.firstIndex(of: "@") { text = String(text[..<at]) }
        if let semicolon = text.firstIndex(of: ";") { text = String(text[..<semicolon]) }
        return text.isEmpty ? aor : text
    }

    /// Short form for tables: `Alice <+15551230001>`, or just one of them.
    var shortLabel: String {
        let name = self.name.flatMap { $0.isEmpty ? nil : $0 }
        switch (name, aorUser) {
        case let (name?, user?): return "\(name) <\(user)>"
        case let (name?, nil): return name
        case let (nil, user?): return user
        case (nil, nil): return "?"
        }
    }

    /// All parties on one line, comma-separated.
    static func summary(_ participants: [Participant]?) -> String {
        guard let participants, !participants.isEmpty else { return "-" }
        return participants.map(\.shortLabel).joined(separator: ", ")
    }
}
