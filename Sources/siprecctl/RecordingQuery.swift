/// The filters of `list`, turned into the query of `GET /api/v1/recordings`.
struct RecordingQuery: Sendable, Equatable {
    var participant: String?
    /// RFC 3339, already normalized (`UTCTimestamp.queryValue(fromArgument:)`).
    var from: String?
    var to: String?
    var callID: String?
    var vendorID: String?
    var tenant: String?
    var state: String?
    var source: String?
    var limit: Int?
    var cursor: String?

    static let limitRange = 1...500

    /// Names as the contract spells them (`callId`, `vendorId`), empty filters left out.
    func queryString() -> QueryString {
        var query = QueryString()
        query.add("participant", nonEmpty(participant))
        query.add("from", nonEmpty(from))
        query.add("to", nonEmpty(to))
        query.add("callId", nonEmpty(callID))
        query.add("vendorId", nonEmpty(vendorID))
        query.add("tenant", nonEmpty(tenant))
        query.add("state", nonEmpty(state))
        query.add("source", nonEmpty(source))
        query.add("limit", limit)
        query.add("cursor", nonEmpty(cursor))
        return query
    }

    /// The same filters for the page after `cursor`.
    func next(cursor: String) -> RecordingQuery {
        var copy = self
        copy.cursor = cursor
        return copy
    }

    private func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }
}
