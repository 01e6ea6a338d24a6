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
    private var entries: [String: (entry: Entry, generation: UInt64)] = [:]
    /// Keys in the order they were last noted, oldest first; a key noted again is appended and
    /// its older place skipped (its generation no longer matches), so eviction is least
    /// recently noted first.
    private var order: [(key: String, generation: UInt64)] = []
    private var orderStart = 0
    private var generation: UInt64 = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    /// The most recent recording known under any of `keys`.
    func find(_ keys: [String]) -> Entry? {
        keys.compactMap { entries[$0]?.entry }.max { $0.segment < $1.segment }
    }

    /// Remembers `entry` under each key, unless a later segment is already known there.
    mutating func note(_ keys: [String], _ entry: Entry) {
        for key in keys {
            if let known = entries[key], known.entry.segment > entry.segment, known.entry.interactionID == entry.interactionID { continue }
            generation += 1
            entries[key] = (entry, generation)
            order.append((key, generation))
        }
        while entries.count > capacity, orderStart < order.count {
            let (key, noted) = order[orderStart]
            orderStart += 1
            if entries[key]?.generation == noted { entries[key] = nil }
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
