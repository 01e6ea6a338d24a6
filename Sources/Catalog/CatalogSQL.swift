import Foundation

/// The SQL both catalogs share: the list query and the rows of one recording. The schemas
/// differ only in types (see each catalog's migrations), so the statements here are plain
/// SQL with numbered placeholders the driver spells (`?` for SQLite, `$1` for PostgreSQL).
public enum CatalogSQL {
    public enum Value: Sendable, Equatable {
        case text(String)
        case integer(Int64)
        case real(Double)
        case null
    }

    /// Search keys of a recording, by kind.
    public enum KeyKind: String, Sendable {
        case callID = "c"
        case vendorID = "v"
        case participant = "p"
    }

    public static let recordingColumns = "id, interaction_id, segment, source, state, tenant, started_at, ended_at, duration, src_address, call_ids, session_ids, group_id, vendor_ids, participants, files, record"
    /// The same columns for a list page, without the whole record (the largest column, which a
    /// list does not show): it reads as an empty text.
    public static let listColumns = "id, interaction_id, segment, source, state, tenant, started_at, ended_at, duration, src_address, call_ids, session_ids, group_id, vendor_ids, participants, files, '' AS record"

    /// The statement for one page of `query` (one row more than the limit, to know whether a
    /// next page exists).
    public static func list(_ query: RecordingQuery, placeholder: (Int) -> String) -> (sql: String, values: [Value]) {
        var values: [Value] = []
        func bind(_ value: Value) -> String {
            values.append(value)
            return placeholder(values.count)
        }
        var conditions: [String] = []
        if let tenant = query.tenant { conditions.append("tenant = \(bind(.text(tenant)))") }
        if let from = query.from { conditions.append("started_at >= \(bind(.integer(CatalogDate.micros(from))))") }
        if let to = query.to { conditions.append("started_at < \(bind(.integer(CatalogDate.micros(to))))") }
        if let state = query.state { conditions.append("state = \(bind(.text(state)))") }
        if let source = query.source { conditions.append("source = \(bind(.text(source)))") }
        if let callID = query.callID {
            conditions.append("id IN (SELECT recording_id FROM recording_keys WHERE kind = '\(KeyKind.callID.rawValue)' AND value = \(bind(.text(callID))))")
        }
        if let vendorID = query.vendorID {
            conditions.append("id IN (SELECT recording_id FROM recording_keys WHERE kind = '\(KeyKind.vendorID.rawValue)' AND value = \(bind(.text(vendorID))))")
        }
        if let participant = query.participant {
            let range = RecordingQuery.prefixRange(participant)
            conditions.append("id IN (SELECT recording_id FROM recording_keys WHERE kind = '\(KeyKind.participant.rawValue)' AND value >= \(bind(.text(range.lower))) AND value < \(bind(.text(range.upper))))")
        }
        if let after = query.after {
            let micros = bind(.integer(after.startedAtMicros))
            let micros2 = bind(.integer(after.startedAtMicros))
            conditions.append("(started_at < \(micros) OR (started_at = \(micros2) AND id < \(bind(.text(after.id)))))")
        }
        var sql = "SELECT \(listColumns) FROM recordings"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY started_at DESC, id DESC LIMIT \(bind(.integer(Int64(query.limit + 1))))"
        return (sql, values)
    }

    /// The values of the recordings row for `entry`, in `recordingColumns` order.
    public static func rowValues(_ entry: CatalogEntry) -> [Value] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [
            .text(entry.id), .text(entry.interactionID), .integer(Int64(entry.segment)), .text(entry.source),
            .text(entry.state), .text(entry.tenant), .integer(CatalogDate.micros(entry.startedAt)),
            entry.endedAt.map { .integer(CatalogDate.micros($0)) } ?? .null,
            entry.durationSeconds.map { .real($0) } ?? .null,
            entry.srcAddress.map { .text($0) } ?? .null,
            .text(json(strings: entry.callIDs)), .text(json(strings: entry.sessionIDs)),
            entry.groupID.map { .text($0) } ?? .null,
            .text(json(strings: entry.vendorIDs)), .text(json(entry.participants, encoder)), .text(json(entry.files, encoder)),
            .text(entry.recordJSON),
        ]
    }

    /// `INSERT … ON CONFLICT (id) DO UPDATE` (both SQLite and PostgreSQL spell it so).
    public static func upsert(placeholder: (Int) -> String) -> String {
        let columns = recordingColumns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let placeholders = (1...columns.count).map(placeholder).joined(separator: ", ")
        let updates = columns.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        return "INSERT INTO recordings (\(recordingColumns)) VALUES (\(placeholders)) ON CONFLICT (id) DO UPDATE SET \(updates)"
    }

    /// The search keys of `entry`: (kind, value).
    public static func keys(_ entry: CatalogEntry) -> [(KeyKind, String)] {
        var keys: [(KeyKind, String)] = []
        for id in entry.callIDs { keys.append((.callID, id)) }
        for id in entry.vendorIDs { keys.append((.vendorID, id)) }
        for key in entry.participantKeys { keys.append((.participant, key)) }
        var seen = Set<String>()
        return keys.filter { seen.insert("\($0.0.rawValue)\u{0}\($0.1)").inserted }
    }

    /// A row read back (columns in `recordingColumns` order) as an entry.
    public static func entry(id: String, interactionID: String, segment: Int64, source: String, state: String, tenant: String,
                             startedAt: Int64, endedAt: Int64?, duration: Double?, srcAddress: String?, callIDs: String,
                             sessionIDs: String, groupID: String?, vendorIDs: String, participants: String, files: String,
                             record: String, decoder: JSONDecoder = JSONDecoder()) -> CatalogEntry {
        CatalogEntry(
            id: id, interactionID: interactionID, segment: Int(segment), source: source, state: state, tenant: tenant,
            startedAt: CatalogDate.date(micros: startedAt), endedAt: endedAt.map(CatalogDate.date(micros:)),
            durationSeconds: duration, srcAddress: srcAddress,
            callIDs: (try? decoder.decode([String].self, from: Data(callIDs.utf8))) ?? [],
            sessionIDs: (try? decoder.decode([String].self, from: Data(sessionIDs.utf8))) ?? [],
            groupID: groupID,
            vendorIDs: (try? decoder.decode([String].self, from: Data(vendorIDs.utf8))) ?? [],
            participants: (try? decoder.decode([CatalogEntry.Participant].self, from: Data(participants.utf8))) ?? [],
            files: (try? decoder.decode([CatalogEntry.File].self, from: Data(files.utf8))) ?? [],
            recordJSON: record
        )
    }

    static func json<T: Encodable & Collection>(_ value: T, _ encoder: JSONEncoder) -> String {
        if value.isEmpty { return "[]" }
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    /// A JSON array of strings, written directly (a `JSONEncoder` per column was a tenth of
    /// the ingest's CPU).
    static func json(strings: [String]) -> String {
        if strings.isEmpty { return "[]" }
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        for (index, string) in strings.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            for byte in string.utf8 {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    bytes.append(UInt8(ascii: "\\"))
                    bytes.append(byte)
                case 0x0A: bytes.append(contentsOf: Array("\\n".utf8))
                case 0x0D: bytes.append(contentsOf: Array("\\r".utf8))
                case 0x09: bytes.append(contentsOf: Array("\\t".utf8))
                case 0..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: Array("\\u00".utf8))
                    bytes.append(hex[Int(byte >> 4)])
                    bytes.append(hex[Int(byte & 0x0F)])
                default:
                    bytes.append(byte)
                }
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "]"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Finished, not held, started before the cutoff; by tenant or all but some tenants.
    public static func expired(cutoffMicros: Int64, tenant: String?, exceptTenants: [String], limit: Int,
                               placeholder: (Int) -> String) -> (sql: String, values: [Value]) {
        var values: [Value] = [.integer(cutoffMicros)]
        var sql = "SELECT \(recordingColumns) FROM recordings WHERE state <> 'active' AND legal_hold = 0 AND started_at < \(placeholder(1))"
        if let tenant {
            values.append(.text(tenant))
            sql += " AND tenant = \(placeholder(values.count))"
        } else if !exceptTenants.isEmpty {
            var marks: [String] = []
            for other in exceptTenants {
                values.append(.text(other))
                marks.append(placeholder(values.count))
            }
            sql += " AND tenant NOT IN (\(marks.joined(separator: ", ")))"
        }
        values.append(.integer(Int64(limit)))
        sql += " ORDER BY started_at, id LIMIT \(placeholder(values.count))"
        return (sql, values)
    }

    /// Finished recordings not exported yet, oldest first.
    public static func exportCandidates(limit: Int, placeholder: (Int) -> String) -> (sql: String, values: [Value]) {
        ("SELECT \(recordingColumns) FROM recordings WHERE exported = 0 AND state <> 'active' ORDER BY started_at, id LIMIT \(placeholder(1))",
         [.integer(Int64(limit))])
    }
}
