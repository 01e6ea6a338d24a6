/// Finds the earlier recording of the same conversation: a new recording session that carries
/// a communication-session id, group id or Built-in-Bridge pairing key seen before (SRC
/// failover, a transfer recorded as a new session, BYE-then-new-INVITE styles, a BIB leg that
/// came after the other had ended) becomes the next segment of that interaction.
/// Bounded: the oldest keys are forgotten first.
struct InteractionIndex {
    struct Entry: Equatable {
        var interactionID: String
        var recordingID: String
        var segment: Int
    }

    let capacity: Int
    private var entries: [String: Entry] = [:]
    /// Insertion order, for eviction; keys re-noted move to the back lazily.
    private var order: [String] = []
    private var orderStart = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    /// The most recent recording known under any of `keys`.
    func find(_ keys: [String]) -> Entry? {
        keys.compactMap { entries[$0] }.max { $0.segment < $1.segment }
    }

    /// Remembers `entry` as the latest recording under each key.
    mutating func note(_ keys: [String], _ entry: Entry) {
        for key in keys {
            if entries.updateValue(entry, forKey: key) == nil { order.append(key) }
        }
        while entries.count > capacity, orderStart < order.count {
            entries[order[orderStart]] = nil
            orderStart += 1
        }
        if orderStart > 1024, orderStart * 2 > order.count {
            order.removeFirst(orderStart)
            orderStart = 0
        }
    }

    static func keys(sessionIDs: [String], groupID: String?, bibPairingKey: String?) -> [String] {
        sessionIDs.map { "session:\($0)" } + (groupID.map { ["group:\($0)"] } ?? []) + (bibPairingKey.map { ["bib:\($0)"] } ?? [])
    }
}
