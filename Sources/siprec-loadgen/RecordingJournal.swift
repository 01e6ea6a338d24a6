import Foundation

/// The records siprecd keeps in `<data-dir>/recordings/YYYY/MM/DD/records.jsonl`: one JSON
/// object per line, each the whole state of one recording at that moment, so the last line of
/// a recording id is its current state.
struct JournalRecord: Sendable {
    struct AudioFile: Sendable {
        /// "spool" while being written, "archive" once finished.
        var location: String
        var path: String
        var channels: Int?
        var sampleRate: Int?
        var audioSeconds: Double?
        var sha256: String?
    }

    var recordingID: String
    var callIDs: [String]
    var file: AudioFile?

    var isArchived: Bool { file?.location == "archive" }

    init?(json line: Substring) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let recordingID = object["recordingID"] as? String else { return nil }
        self.recordingID = recordingID
        callIDs = (object["dialogs"] as? [[String: Any]] ?? []).compactMap { $0["callID"] as? String }
        if let file = object["file"] as? [String: Any], let location = file["location"] as? String, let path = file["path"] as? String {
            self.file = AudioFile(location: location, path: path, channels: file["channels"] as? Int,
                                  sampleRate: file["sampleRate"] as? Int, audioSeconds: file["audioSeconds"] as? Double,
                                  sha256: file["sha256"] as? String)
        }
    }
}

enum RecordingJournal {
    /// The current record of every recording in every journal under `dataDirectory`, by
    /// Call-ID of each of its dialogs. A line still being written (no newline yet, or
    /// unparseable) is skipped; the next read sees it whole.
    static func recordsByCallID(dataDirectory: String) -> [String: JournalRecord] {
        var latest: [String: JournalRecord] = [:]
        for path in journalPaths(dataDirectory: dataDirectory) {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n") {
                guard let record = JournalRecord(json: line) else { continue }
                latest[record.recordingID] = record
            }
        }
        var byCallID: [String: JournalRecord] = [:]
        for record in latest.values {
            for callID in record.callIDs { byCallID[callID] = record }
        }
        return byCallID
    }

    /// Every `recordings/YYYY/MM/DD/records.jsonl`, oldest day first. A recording stays in the
    /// journal of the day it started, so the order is only for reproducible reads.
    static func journalPaths(dataDirectory: String) -> [String] {
        let root = URL(fileURLWithPath: dataDirectory).appendingPathComponent("recordings").path
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        var paths: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if (relative as NSString).lastPathComponent == "records.jsonl" {
                paths.append(root + "/" + relative)
            }
        }
        return paths.sorted()
    }
}
