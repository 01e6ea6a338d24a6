import Atomics
import Logging

/// What reloading the configuration does, worked out without touching the running server:
/// which keys change live, which differ but wait for a restart, and the configuration to run
/// with (the running one with only the live keys replaced).
public struct ConfigurationReloadPlan: Sendable {
    public var applied: [String] = []
    public var restartRequired: [String] = []
    public var effective: ServerConfiguration

    public init(running: ServerConfiguration, loaded: ServerConfiguration) {
        effective = running
        // Live: read per request or per new call, so a new value simply applies to what comes next.
        live("sip.trusted-networks", \.trustedNetworks, loaded)
        live("sip.advertised-host", \.advertisedHost, loaded)
        live("sip.max-concurrent-calls", \.maxConcurrentCalls, loaded)
        live("sip.max-streams-per-call", \.maxStreamsPerCall, loaded)
        live("sip.min-session-expires", \.minSessionExpires, loaded)
        live("sip.drain-timeout-s", \.drainTimeout, loaded)
        live("sip.answer-delay-ms", \.answerDelay, loaded)
        live("sessions.bib-sources", \.builtInBridgeSources, loaded)
        live("sessions.plain-sources", \.plainCallSources, loaded)
        if running.tenants.map(\.name) != loaded.tenants.map(\.name) || running.tenants.map(\.sources) != loaded.tenants.map(\.sources) {
            effective.tenants = loaded.tenants
            applied.append("sessions.tenants")
        }
        live("sessions.metadata", \.metadataLimits, loaded)
        live("sessions.metadata.max-versions", \.maxMetadataVersions, loaded)
        live("media.srtp", \.srtpPolicy, loaded)
        live("log.level", \.logLevel, loaded)
        // At the next start: sockets, folders, threads and clients built once.
        restart("sip.listen", \.sipListen, loaded)
        restart("sip.tls", \.tls, loaded)
        restart("sip.timers", \.timers, loaded)
        restart("sip.limits", \.limits, loaded)
        restart("sip.incomplete-message-timeout-ms", \.incompleteMessageTimeout, loaded)
        restart("sip.max-connections", \.maxConnections, loaded)
        restart("sip.max-transactions", \.maxTransactions, loaded)
        restart("sessions.interaction-index-size", \.interactionIndexSize, loaded)
        restart("http.listen", \.httpListen, loaded)
        restart("http.tls", \.httpTLS, loaded)
        restart("http.conversion-cache-mb", \.conversionCacheMegabytes, loaded)
        restart("data-dir", \.dataDirectory, loaded)
        restart("catalog.database", \.database, loaded)
        restart("catalog.node", \.nodeName, loaded)
        restart("media.rtp-ports", \.rtpPorts, loaded)
        restart("recording", \.recording, loaded)
        restart("webhooks", \.webhooks, loaded)
        restart("webhooks.give-up-after-s", \.webhookGiveUpAfter, loaded)
        restart("replication.peers", \.replicationPeers, loaded)
        restart("retention.days", \.retentionDays, loaded)
        restart("retention.tenants", \.retentionTenantDays, loaded)
        restart("retention.interval-s", \.retentionInterval, loaded)
        restart("export.folder", \.exportFolder, loaded)
        restart("export.interval-s", \.exportInterval, loaded)
        restart("jobs.leader-check-s", \.leaderCheckInterval, loaded)
        restart("dns.server", \.dnsServer, loaded)
    }

    private mutating func live<Value: Equatable>(_ key: String, _ path: WritableKeyPath<ServerConfiguration, Value>, _ loaded: ServerConfiguration) {
        guard effective[keyPath: path] != loaded[keyPath: path] else { return }
        effective[keyPath: path] = loaded[keyPath: path]
        applied.append(key)
    }

    private mutating func restart<Value: Equatable>(_ key: String, _ path: KeyPath<ServerConfiguration, Value>, _ loaded: ServerConfiguration) {
        if effective[keyPath: path] != loaded[keyPath: path] { restartRequired.append(key) }
    }
}

/// The log level every logger of the process reads, changed by a configuration reload.
/// Every log call (those below the level included, on the SIP and media threads) reads it:
/// an atomic load, no lock.
public final class RuntimeLogLevel: Sendable {
    private static let levels = Logger.Level.allCases
    private let index: ManagedAtomic<Int>

    public init(_ level: Logger.Level) { index = ManagedAtomic(Self.levels.firstIndex(of: level) ?? 0) }

    public var current: Logger.Level {
        get { Self.levels[index.load(ordering: .relaxed)] }
        set { index.store(Self.levels.firstIndex(of: newValue) ?? 0, ordering: .relaxed) }
    }
}

/// A log handler whose level is the process's `RuntimeLogLevel`, whatever a logger sets.
public struct ReloadableLevelLogHandler: LogHandler {
    private var inner: any LogHandler
    private let level: RuntimeLogLevel

    public init(_ inner: any LogHandler, level: RuntimeLogLevel) {
        self.inner = inner
        self.level = level
    }

    public var logLevel: Logger.Level {
        get { level.current }
        set { /* the process-wide level rules; see `RuntimeLogLevel` */ }
    }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        inner.log(event: event)
    }
}
