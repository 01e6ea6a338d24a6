import Catalog
import Foundation

/// What a webhook tells: a call started, ended, or its recording is in the archive.
public enum WebhookEventKind: String, Sendable, Codable, CaseIterable {
    case callStarted = "call.started"
    case callEnded = "call.ended"
    case recordingAvailable = "recording.available"
}

/// Turns successive states of recordings (journal lines) into events, each once per
/// recording. Pure: the outbox keeps `emitted` with its journal positions.
public struct WebhookEventDeriver: Sendable, Equatable, Codable {
    /// Events already sent per recording, for recordings that may still produce one.
    public var emitted: [String: Set<WebhookEventKind>] = [:]
    /// Recordings ended without a file yet, oldest first (bounds `emitted`).
    var endedWithoutFile: [String] = []
    static let maxEndedWithoutFile = 100_000
    /// The latest recordings that gave all their events: a late or replayed line of one of
    /// them gives nothing again.
    var finished: [String] = []
    static let maxFinished = 2_000

    public init() {}

    /// The events `entry` (a recording's latest state) means that were not given before.
    public mutating func events(for entry: CatalogEntry) -> [WebhookEventKind] {
        if finished.contains(entry.id) { return [] }
        var done = emitted[entry.id] ?? []
        var events: [WebhookEventKind] = []
        if !done.contains(.callStarted) {
            events.append(.callStarted)
        }
        if entry.state != "active", !done.contains(.callEnded) {
            events.append(.callEnded)
        }
        if !done.contains(.recordingAvailable), !entry.files.isEmpty,
           entry.files.allSatisfy({ $0.location == "archive" && $0.sha256 != nil }) {
            events.append(.recordingAvailable)
        }
        done.formUnion(events)
        if done.contains(.recordingAvailable) {
            // Nothing more can come of this recording.
            emitted[entry.id] = nil
            endedWithoutFile.removeAll { $0 == entry.id }
            finished.append(entry.id)
            if finished.count > Self.maxFinished { finished.removeFirst(finished.count - Self.maxFinished) }
        } else {
            emitted[entry.id] = done
            if events.contains(.callEnded) {
                // A call without media never gets a file: forget the oldest such in time.
                endedWithoutFile.append(entry.id)
                if endedWithoutFile.count > Self.maxEndedWithoutFile {
                    emitted[endedWithoutFile.removeFirst()] = nil
                }
            }
        }
        return events
    }
}
