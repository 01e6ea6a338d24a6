import Catalog
import Foundation
import Logging

/// How long recordings are kept: a default for every tenant and overrides per tenant. Zero
/// days keeps forever. A recording on legal hold is never purged.
public struct RetentionPolicy: Sendable, Equatable {
    public var defaultDays: Int
    public var tenantDays: [String: Int]

    public init(defaultDays: Int = 0, tenantDays: [String: Int] = [:]) {
        self.defaultDays = defaultDays
        self.tenantDays = tenantDays
    }

    public var isEnabled: Bool { defaultDays > 0 || tenantDays.values.contains { $0 > 0 } }
}

public struct JobSettings: Sendable {
    public var retention = RetentionPolicy()
    public var retentionInterval: TimeInterval = 3600
    /// Finished recordings are copied here with a JSON sidecar (nil: no export).
    public var exportFolder: URL?
    public var exportInterval: TimeInterval = 300
    /// How often a node tries to become (or checks it still is) the leader.
    public var leaderCheckInterval: TimeInterval = 5
    /// Folders the purge may delete files in (archive and spool); anything else is left alone.
    public var audioRoots: [URL] = []

    public init() {}
}

/// Runs the maintenance jobs on the node that holds the job leadership: the retention purge
/// (files and catalog rows of expired recordings, an audit entry for each) and the export of
/// finished recordings to a folder (audio copied with the record as a `.json` sidecar). Every
/// node runs a `JobRunner`; only the leader works, and progress lives in the catalog (what
/// is exported, what is gone), so a node that takes over goes on where the last one stopped.
public final class JobRunner: @unchecked Sendable {
    public struct Statistics: Sendable, Equatable {
        public var leading = false
        public var purged = 0
        public var exported = 0
        public var failures = 0
    }

    private let catalog: any RecordingCatalog
    private let leadership: any JobLeadership
    private let settings: JobSettings
    private let logger: Logger
    private let lock = NSLock()
    private var statistics = Statistics()

    public init(catalog: any RecordingCatalog, leadership: any JobLeadership, settings: JobSettings, logger: Logger) {
        self.catalog = catalog
        self.leadership = leadership
        self.settings = settings
        self.logger = logger
    }

    public var currentStatistics: Statistics { lock.withLock { statistics } }

    /// Checks leadership every interval and runs the jobs that are due, until cancelled; then
    /// gives the leadership up.
    public func run() async {
        var nextRetention = Date.distantPast
        var nextExport = Date.distantPast
        while !Task.isCancelled {
            let leading = await leadership.check()
            let was = lock.withLock {
                defer { statistics.leading = leading }
                return statistics.leading
            }
            if leading != was {
                logger.notice(leading ? "this node now runs the maintenance jobs" : "this node no longer runs the maintenance jobs")
            }
            if leading {
                let now = Date()
                if settings.retention.isEnabled, now >= nextRetention {
                    nextRetention = now.addingTimeInterval(settings.retentionInterval)
                    do { _ = try await purgeExpired(now: now) } catch { noteFailure("retention purge", error) }
                }
                if settings.exportFolder != nil, now >= nextExport {
                    nextExport = now.addingTimeInterval(settings.exportInterval)
                    do { _ = try await exportFinished() } catch { noteFailure("export", error) }
                }
            }
            try? await Task.sleep(for: .milliseconds(Int(settings.leaderCheckInterval * 1000)))
        }
        await leadership.release()
    }

    private func noteFailure(_ job: String, _ error: any Error) {
        lock.withLock { statistics.failures += 1 }
        logger.error("maintenance job failed; it runs again at its next interval", metadata: ["job": "\(job)", "error": "\(error)"])
    }

    // MARK: - Retention

    /// Purges every recording past its tenant's retention; returns how many.
    @discardableResult
    public func purgeExpired(now: Date) async throws -> Int {
        let policy = settings.retention
        var purged = 0
        for (tenant, days) in policy.tenantDays.sorted(by: { $0.key < $1.key }) where days > 0 {
            purged += try await purge(cutoff: now.addingTimeInterval(-Double(days) * 86_400), tenant: tenant, exceptTenants: [])
        }
        if policy.defaultDays > 0 {
            purged += try await purge(cutoff: now.addingTimeInterval(-Double(policy.defaultDays) * 86_400), tenant: nil,
                                      exceptTenants: Array(policy.tenantDays.keys).sorted())
        }
        if purged > 0 { logger.notice("retention purge done", metadata: ["recordings": "\(purged)"]) }
        return purged
    }

    private func purge(cutoff: Date, tenant: String?, exceptTenants: [String]) async throws -> Int {
        var purged = 0
        var kept = Set<String>()
        while true {
            let batch = try await catalog.expiredRecordings(startedBefore: cutoff, tenant: tenant, exceptTenants: exceptTenants,
                                                            limit: 200 + kept.count)
            let fresh = batch.filter { !kept.contains($0.id) }
            if fresh.isEmpty { return purged }
            for entry in fresh {
                if deleteFiles(of: entry) {
                    try await catalog.deleteRecording(id: entry.id)
                    try await catalog.appendAudit(AuditEntry(at: Date(), tokenID: "retention", tokenName: "retention purge",
                                                             action: "purge", recordingID: entry.id, remote: nil))
                    purged += 1
                    lock.withLock { statistics.purged += 1 }
                } else {
                    // A file that cannot be deleted keeps its row, so it is tried again next time.
                    kept.insert(entry.id)
                }
            }
        }
    }

    /// Deletes the recording's files; true when none is left. Files outside the audio roots
    /// are not touched (and do not block the purge of the row).
    private func deleteFiles(of entry: CatalogEntry) -> Bool {
        var ok = true
        for file in entry.files {
            let path = URL(fileURLWithPath: file.path).standardizedFileURL.path
            guard settings.audioRoots.contains(where: { path.hasPrefix($0.standardizedFileURL.path + "/") }) else {
                logger.warning("retention purge: file outside the archive and spool left in place", metadata: ["recording": "\(entry.id)"])
                continue
            }
            if unlink(path) != 0 && errno != ENOENT {
                logger.error("retention purge: file could not be deleted", metadata: ["recording": "\(entry.id)", "errno": "\(errno)"])
                ok = false
            }
        }
        return ok
    }

    // MARK: - Export

    /// Copies every finished recording not exported yet; returns how many.
    @discardableResult
    public func exportFinished() async throws -> Int {
        guard let folder = settings.exportFolder else { return 0 }
        var exported = 0
        var failed = Set<String>()
        while true {
            let batch = try await catalog.exportCandidates(limit: 100 + failed.count).filter { !failed.contains($0.id) }
            if batch.isEmpty { break }
            for entry in batch {
                do {
                    try export(entry, to: folder)
                } catch {
                    // One recording that cannot be copied (its file is on another node, say)
                    // does not hold up the others; it is tried again at the next run.
                    failed.insert(entry.id)
                    lock.withLock { statistics.failures += 1 }
                    logger.warning("export: recording not copied; tried again next run", metadata: ["recording": "\(entry.id)", "error": "\(error)"])
                    continue
                }
                try await catalog.markExported(id: entry.id)
                exported += 1
                lock.withLock { statistics.exported += 1 }
            }
        }
        if exported > 0 { logger.info("export done", metadata: ["recordings": "\(exported)", "folder": "\(folder.path)"]) }
        return exported
    }

    /// `<folder>/YYYY/MM/DD/<file name>` for each file and `<id>.json` beside them; each is
    /// written under a temporary name and renamed, so a reader never sees half a file.
    func export(_ entry: CatalogEntry, to folder: URL) throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let day = calendar.dateComponents([.year, .month, .day], from: entry.startedAt)
        let target = folder.appendingPathComponent(String(format: "%04d/%02d/%02d", day.year ?? 1970, day.month ?? 1, day.day ?? 1))
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        for file in entry.files {
            let source = URL(fileURLWithPath: file.path)
            let destination = target.appendingPathComponent(source.lastPathComponent)
            if FileManager.default.fileExists(atPath: destination.path) { continue }
            let temporary = target.appendingPathComponent("." + source.lastPathComponent + ".part")
            try? FileManager.default.removeItem(at: temporary)
            try FileManager.default.copyItem(at: source, to: temporary)
            guard rename(temporary.path, destination.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        }
        let sidecar = target.appendingPathComponent(entry.id + ".json")
        let temporary = target.appendingPathComponent("." + entry.id + ".json.part")
        try Data(entry.recordJSON.utf8).write(to: temporary)
        guard rename(temporary.path, sidecar.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }
}
