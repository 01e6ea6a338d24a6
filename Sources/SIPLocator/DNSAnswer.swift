/// The answer to one question.
public struct DNSAnswer: Hashable, Sendable {
    public enum Outcome: Hashable, Sendable {
        /// At least one record.
        case records
        /// NXDOMAIN: the name does not exist.
        case nameNotFound
        /// The name exists with no record of the asked type (RFC 2308 NODATA).
        case noData
    }

    public var outcome: Outcome
    /// The answer section's records of the asked type (CNAMEs the server followed are left out).
    public var records: [DNSRecord]
    /// The additional section (SRV targets' addresses, say).
    public var additional: [DNSRecord]
    /// For a negative answer, how long it may be cached (RFC 2308 §5), when the server said.
    public var negativeTTL: UInt32?

    public init(outcome: Outcome, records: [DNSRecord] = [], additional: [DNSRecord] = [], negativeTTL: UInt32? = nil) {
        self.outcome = outcome
        self.records = records
        self.additional = additional
        self.negativeTTL = negativeTTL
    }

    public static func records(_ records: [DNSRecord]) -> DNSAnswer {
        DNSAnswer(outcome: records.isEmpty ? .noData : .records, records: records)
    }

    public static let nameNotFound = DNSAnswer(outcome: .nameNotFound)
    public static let noData = DNSAnswer(outcome: .noData)

    /// Reads a resolver's response to a question of `type`.
    public init(message: DNSMessage, type: DNSRecordType) {
        let matching = message.answers.filter { $0.type == type }
        if !matching.isEmpty {
            outcome = .records
        } else if message.responseCode == .nameError {
            outcome = .nameNotFound
        } else {
            outcome = .noData
        }
        records = matching
        additional = message.additional
        negativeTTL = matching.isEmpty ? message.negativeTTL : nil
    }

    /// The smallest TTL of the records (how long the whole answer stays valid).
    public var minimumTTL: UInt32? {
        records.map(\.ttl).min()
    }
}
