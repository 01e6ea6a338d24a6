/// `GET /api/v1/recordings/{id}`: the summary members plus `record`, the journal record.
struct RecordingDetail: Decodable, Sendable {
    var summary: RecordingSummary
    /// nil when absent or of a shape this client does not know (the summary still shows).
    var record: JournalRecord?

    private enum CodingKeys: String, CodingKey {
        case record
    }

    init(summary: RecordingSummary, record: JournalRecord?) {
        self.summary = summary
        self.record = record
    }

    init(from decoder: any Decoder) throws {
        summary = try RecordingSummary(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        record = try? container.decodeIfPresent(JournalRecord.self, forKey: .record)
    }
}
