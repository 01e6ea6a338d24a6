import Foundation

/// A list query: filters, page size and where the previous page ended. Results are newest
/// first (start time, then id, both descending), so a cursor is the last row's (start, id).
public struct RecordingQuery: Sendable, Equatable {
    /// Recordings that started at or after `from` and before `to`.
    public var from: Date?
    public var to: Date?
    /// Prefix (case-insensitive) of a participant's AOR, number or name.
    public var participant: String?
    public var callID: String?
    /// Any vendor id value, exactly.
    public var vendorID: String?
    public var tenant: String?
    public var state: String?
    public var source: String?
    public var limit: Int
    public var after: RecordingCursor?

    public static let maxLimit = 500
    public static let defaultLimit = 50

    public init(from: Date? = nil, to: Date? = nil, participant: String? = nil, callID: String? = nil,
                vendorID: String? = nil, tenant: String? = nil, state: String? = nil, source: String? = nil,
                limit: Int = RecordingQuery.defaultLimit, after: RecordingCursor? = nil) {
        self.from = from
        self.to = to
        self.participant = participant
        self.callID = callID
        self.vendorID = vendorID
        self.tenant = tenant
        self.state = state
        self.source = source
        self.limit = limit
        self.after = after
    }

    /// The range of participant keys a prefix matches: `[prefix, upperBound)` in byte order
    /// (both catalogs compare keys as bytes).
    public static func prefixRange(_ prefix: String) -> (lower: String, upper: String) {
        let lowered = prefix.lowercased()
        return (lowered, lowered + "\u{10FFFF}")
    }
}

/// Where a page ended: the last recording's start (microseconds) and id. Opaque to clients
/// (base64url of `micros:id`).
public struct RecordingCursor: Sendable, Equatable {
    public var startedAtMicros: Int64
    public var id: String

    public init(startedAtMicros: Int64, id: String) {
        self.startedAtMicros = startedAtMicros
        self.id = id
    }

    public var token: String {
        Data("\(startedAtMicros):\(id)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public init?(token: String) {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard token.count <= 400, let data = Data(base64Encoded: base64),
              let text = String(data: data, encoding: .utf8),
              let colon = text.firstIndex(of: ":"),
              let micros = Int64(text[..<colon]) else { return nil }
        let id = String(text[text.index(after: colon)...])
        guard !id.isEmpty else { return nil }
        self.init(startedAtMicros: micros, id: id)
    }
}

public struct RecordingPage: Sendable, Equatable {
    public var items: [CatalogEntry]
    public var next: RecordingCursor?

    public init(items: [CatalogEntry], next: RecordingCursor?) {
        self.items = items
        self.next = next
    }
}
