import AdminAPI
import Cluster
import Catalog
import CatalogPostgres
import CatalogSQLite
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import Media
import NIOCore
import NIOPosix
import Prometheus
import Recording
import ServiceLifecycle
import SIPLocator
import SIPStack
import UnixSignals
import Webhooks

/// Builds the whole server from its configuration; `main` runs what this returns, and tests
/// build the same thing with port 0 (STYLE 7).
///
/// Services, in start order (they stop in reverse): the PostgreSQL pool (if any), the journal
/// ingest, the admin HTTP API, then SIP. So on SIGTERM the SIP side ends first and writes its
/// last records, the ingest applies them, and the database goes last.
public struct Application: Sendable {
    public let serviceGroup: ServiceGroup
    public let sip: SIPService
    public let catalog: any RecordingCatalog
    public let ingestor: JournalIngestor
    /// Webhook deliveries, when endpoints are configured.
    public let webhooks: WebhookOutbox?
    /// Sending to peers, when `replication.peers` are configured.
    public let replication: ReplicationOutbox?
    /// Retention and export, when configured.
    public let jobs: JobRunner?

    /// Reads the configuration again for a reload (file, then flags); nil: nothing to reload.
    public let reloadSource: (@Sendable () throws -> ServerConfiguration)?
    /// The process's log level, which a reload may change.
    public let logLevel: RuntimeLogLevel?

    public init(configuration: ServerConfiguration, logger: Logger,
                metricsRegistry: PrometheusCollectorRegistry? = nil,
                reloadSource: (@Sendable () throws -> ServerConfiguration)? = nil,
                logLevel: RuntimeLogLevel? = nil,
                onListening: (@Sendable ([SIPListenAddress]) -> Void)? = nil,
                onHTTPListening: (@Sendable (Int) -> Void)? = nil) throws {
        try configuration.validate()
        self.reloadSource = reloadSource
        self.logLevel = logLevel
        Self.checkDescriptorLimit(maxCalls: configuration.maxConcurrentCalls, logger: logger)
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        sip = try SIPService(configuration: configuration, logger: logger, eventLoop: loop, onListening: onListening)

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        // Requests the recorder sends are located by DNS with failover: peers and webhook
        // endpoints (SRV _http._tcp, then A/AAAA), and BYEs to a remote target that names a
        // host (RFC 3263 NAPTR/SRV/A over UDP). One resolver and cache for all.
        let resolver = CachingDNSResolver(upstream: SystemDNSResolver(configuration: DNSResolverConfiguration(
            nameServer: configuration.dnsServer.flatMap(DNSNameServer.init(parsing:)))))
        let httpLocator = HTTPEndpointLocator(resolver: resolver)
        let sipLocator = SIPTargetLocator(resolver: resolver, configuration: .init(transports: [.udp]))
        sip.core.locateUDPTargets = { uri in
            guard let destination = SIPDestination(uri: uri.description) else { return [] }
            let targets = (try? await sipLocator.locate(destination, preferredTransport: .udp)) ?? []
            return targets.compactMap { try? SocketAddress(ipAddress: $0.address, port: Int($0.port)) }
        }
        let url = configuration.databaseURL
        let leadership: any JobLeadership
        if url.hasPrefix("sqlite:") {
            let path = String(url.dropFirst("sqlite:".count))
            do {
                catalog = try SQLiteCatalog(path: path)
            } catch {
                // Recording does not wait for the catalog: the journal keeps the records.
                logger.error("catalog cannot be opened; recording continues and records wait in the journal", metadata: ["error": "\(error)"])
                catalog = DeferredCatalog { try SQLiteCatalog(path: path) }
            }
            // No other node shares this catalog: this one runs the jobs.
            leadership = SingleNodeLeadership()
        } else {
            let postgres = try PostgresCatalog(url: url, logger: logger)
            catalog = postgres
            leadership = try postgres.makeLeadership()
            services.append(.init(service: TaskService { try await cancelWhenGracefulShutdown { await postgres.run() } }))
        }
        let ingestor = JournalIngestor(
            recordsFolder: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("recordings"),
            node: configuration.nodeName, catalog: catalog, logger: logger)
        self.ingestor = ingestor
        var ingestors = [ingestor]
        if configuration.webhooks.isEmpty {
            webhooks = nil
        } else {
            let outbox = try WebhookOutbox(
                folder: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("webhooks"),
                settings: WebhookSettings(
                    endpoints: configuration.webhooks.map {
                        WebhookEndpoint(url: $0.url, events: Set($0.events.compactMap(WebhookEventKind.init(rawValue:))), secret: $0.secret)
                    },
                    giveUpAfter: TimeInterval(configuration.webhookGiveUpAfter.components.seconds)),
                logger: logger, locator: httpLocator)
            webhooks = outbox
            ingestors.append(JournalIngestor(recordsFolder: ingestor.root, node: configuration.nodeName, catalog: outbox,
                                             logger: logger, name: "webhook outbox"))
            services.append(.init(service: TaskService { try await cancelWhenGracefulShutdown { await outbox.runDeliveries() } }))
        }
        // Replication: recordings from peers land in their own journal (applied to the catalog
        // by an ingestor of their own); this node's finished recordings go to its peers.
        let archiveDirectory = URL(fileURLWithPath: configuration.recording.archive(in: configuration.dataDirectory))
        let inbox = try ReplicationInbox(dataDirectory: URL(fileURLWithPath: configuration.dataDirectory), archiveDirectory: archiveDirectory,
                                         logger: logger, hashFile: { SpoolWriter.sha256($0) })
        let replicaIngestor = JournalIngestor(recordsFolder: inbox.journalRoot, node: configuration.nodeName + "/replicated",
                                              catalog: catalog, logger: logger, name: "replicated records")
        inbox.onAppended = { paths in replicaIngestor.noteAppended(paths) }
        if configuration.replicationPeers.isEmpty {
            replication = nil
        } else {
            var settings = ReplicationSettings(node: configuration.nodeName, archiveDirectory: archiveDirectory, peers: configuration.replicationPeers.map {
                ReplicationPeer(name: $0.name, url: $0.url, token: $0.token, maxBytesPerSecond: $0.maxBytesPerSecond)
            })
            settings.locator = httpLocator
            let outbox = try ReplicationOutbox(
                folder: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("replication"),
                settings: settings, logger: logger)
            replication = outbox
            ingestors.append(JournalIngestor(recordsFolder: ingestor.root, node: configuration.nodeName, catalog: outbox,
                                             logger: logger, name: "replication outbox"))
            services.append(.init(service: TaskService { try await cancelWhenGracefulShutdown { await outbox.runSenders() } }))
        }
        // Retention and export, on the node that holds the job leadership.
        var jobSettings = JobSettings()
        jobSettings.retention = RetentionPolicy(defaultDays: configuration.retentionDays, tenantDays: configuration.retentionTenantDays)
        jobSettings.retentionInterval = TimeInterval(configuration.retentionInterval.components.seconds)
        jobSettings.exportFolder = configuration.exportFolder.map { URL(fileURLWithPath: $0) }
        jobSettings.exportInterval = TimeInterval(configuration.exportInterval.components.seconds)
        jobSettings.leaderCheckInterval = TimeInterval(configuration.leaderCheckInterval.components.seconds)
        jobSettings.audioRoots = [archiveDirectory, URL(fileURLWithPath: configuration.recording.spool(in: configuration.dataDirectory))]
        if jobSettings.retention.isEnabled || jobSettings.exportFolder != nil {
            let runner = JobRunner(catalog: catalog, leadership: leadership, settings: jobSettings, logger: logger)
            jobs = runner
            services.append(.init(service: TaskService { try await cancelWhenGracefulShutdown { await runner.run() } }))
        } else {
            jobs = nil
        }
        let allIngestors = ingestors
        sip.controller.onRecordsAppended { paths in
            for ingestor in allIngestors { ingestor.noteAppended(paths) }
        }
        ingestors.append(replicaIngestor)
        for each in ingestors {
            services.append(.init(service: TaskService {
                await withGracefulShutdownHandler {
                    await each.run()
                } onGracefulShutdown: {
                    // SIP has stopped and flushed its records by now: apply them, then end.
                    Task {
                        _ = await each.catchUp()
                        each.finish()
                    }
                }
            }))
        }

        let controller = sip.controller
        let recording = configuration.recording
        let dataDirectory = configuration.dataDirectory
        let webhooks = self.webhooks
        let replication = self.replication
        let jobs = self.jobs
        var apiServices = AdminAPIServices(
            catalog: catalog,
            calls: LiveCallDirectory(controller: controller, eventLoop: loop),
            transcoder: FileTranscoder(folder: URL(fileURLWithPath: dataDirectory).appendingPathComponent("cache/audio"),
                                       maxBytes: Int64(configuration.conversionCacheMegabytes) << 20),
            audioRoots: [URL(fileURLWithPath: recording.archive(in: dataDirectory)), URL(fileURLWithPath: recording.spool(in: dataDirectory))],
            readiness: {
                guard let problems = try? await loop.submit({ controller.health.problems }).get() else {
                    return ReadinessReport(checks: ["sip": "not answering"])
                }
                func check(_ problem: HealthProblem) -> String { problems.contains(problem) ? problem.text : "ok" }
                let calls = [HealthProblem.draining, .atCapacity, .noMediaPorts].first { problems.contains($0) }
                return ReadinessReport(checks: [
                    "records": check(.recordsNotWritable), "spool": check(.spoolUnhealthy), "archive": check(.archiveLowSpace),
                    "calls": calls.map(\.text) ?? "ok",
                ])
            },
            metrics: {
                var text = metricsRegistry?.emitToString() ?? ""
                let stats = ingestor.currentStatistics
                let snapshot = try? await loop.submit { controller.snapshot }.get()
                text += Self.gauge("siprecd_calls_active", "SIP dialogs being recorded", snapshot?.activeCalls ?? 0)
                text += Self.gauge("siprecd_recordings_active", "Recordings in progress", snapshot?.activeRecordings ?? 0)
                text += Self.gauge("siprecd_media_ports_in_use", "RTP ports held by calls", snapshot?.portsInUse ?? 0)
                text += Self.gauge("siprecd_catalog_journal_backlog_bytes", "Records journal not yet in the catalog", Int(stats.backlogBytes))
                text += Self.gauge("siprecd_catalog_failing", "1 while the catalog refuses writes", stats.failing ? 1 : 0)
                text += Self.counter("siprecd_catalog_lines_applied_total", "Journal lines applied to the catalog", stats.linesApplied)
                text += Self.counter("siprecd_catalog_lines_skipped_total", "Journal lines that were not records", stats.linesSkipped)
                if let outbox = replication {
                    for (peer, stats) in outbox.currentStatistics.sorted(by: { $0.key < $1.key }) {
                        let label = "{peer=\"\(peer)\"}"
                        text += Self.gauge("siprecd_replication_pending\(label)", "Recordings waiting to be sent to the peer", stats.pending)
                        text += Self.gauge("siprecd_replication_lag_seconds\(label)", "Age of the oldest recording waiting for the peer",
                                           Int(stats.oldestPendingSeconds.rounded()))
                        text += Self.counter("siprecd_replication_sent_total\(label)", "Recordings the peer stored", stats.sent)
                        text += Self.counter("siprecd_replication_bytes_sent_total\(label)", "Audio bytes sent to the peer", Int(stats.bytesSent))
                        text += Self.gauge("siprecd_replication_failing\(label)", "1 while sending to the peer fails", stats.failing ? 1 : 0)
                    }
                }
                if let jobs {
                    let stats = jobs.currentStatistics
                    text += Self.gauge("siprecd_jobs_leader", "1 while this node runs the maintenance jobs", stats.leading ? 1 : 0)
                    text += Self.counter("siprecd_retention_purged_total", "Recordings deleted by the retention purge", stats.purged)
                    text += Self.counter("siprecd_export_exported_total", "Recordings copied to the export folder", stats.exported)
                    text += Self.counter("siprecd_jobs_failures_total", "Maintenance job runs that failed", stats.failures)
                }
                text += Self.counter("siprecd_replication_received_total", "Recordings received from peers", inbox.committed)
                if let outbox = webhooks {
                    text += Self.gauge("siprecd_webhooks_pending", "Webhook events waiting for delivery", outbox.pendingCount)
                    text += Self.counter("siprecd_webhooks_delivered_total", "Webhook events delivered", outbox.delivered)
                    text += Self.counter("siprecd_webhooks_given_up_total", "Webhook events moved to webhooks/failed", outbox.givenUp)
                }
                return text
            },
            bootstrapToken: configuration.apiBootstrapToken)
        apiServices.replication = InboxReceiver(inbox: inbox)
        if let reloadSource {
            let sip = self.sip
            apiServices.reload = {
                let plan = try await Self.reload(sip: sip, source: reloadSource, logLevel: logLevel, logger: logger)
                return ReloadOutcome(applied: plan.applied, restartRequired: plan.restartRequired)
            }
        }
        let api = AdminAPI(services: apiServices, logger: logger)
        guard let listen = HTTPListen(configuration.httpListen) else {
            throw ServerConfiguration.Error(key: "http.listen", problem: "must be HOST:PORT")
        }
        // HTTPS when http.tls is set (the context is built here, once, off the event loops).
        let server: HTTPServerBuilder = try configuration.httpTLS.map { try .tls(.http1(), tlsConfiguration: $0.makeTLSConfiguration()) } ?? .http1()
        let http = Hummingbird.Application(
            router: api.router(),
            server: server,
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "siprecd"),
            onServerRunning: { channel in
                logger.info("listening", metadata: ["http": "\(listen.host):\(channel.localAddress?.port ?? listen.port)"])
                onHTTPListening?(channel.localAddress?.port ?? listen.port)
            },
            logger: logger)
        services.append(.init(service: http))
        services.append(.init(service: sip))
        // No signals here: `run` handles them, because a second SIGTERM means something else
        // (end the calls now) than the first (drain).
        serviceGroup = ServiceGroup(configuration: .init(services: services, logger: logger))
        self.logger = logger
    }

    private let logger: Logger

    /// Reads the configuration again and applies what can change while running (the admin
    /// API's reload and SIGHUP). An invalid file throws and changes nothing.
    public func reload() async throws -> ConfigurationReloadPlan {
        guard let reloadSource else { throw ServerConfiguration.Error(key: "(file)", problem: "siprecd was started without --config") }
        return try await Self.reload(sip: sip, source: reloadSource, logLevel: logLevel, logger: logger)
    }

    static func reload(sip: SIPService, source: @Sendable () throws -> ServerConfiguration, logLevel: RuntimeLogLevel?,
                       logger: Logger) async throws -> ConfigurationReloadPlan {
        let loaded: ServerConfiguration
        do {
            loaded = try source()
        } catch {
            logger.warning("configuration not reloaded: the running one stays", metadata: ["error": "\(error)"])
            throw error
        }
        let plan = try await sip.reload(to: loaded, logLevel: logLevel)
        logger.notice("configuration reloaded", metadata: [
            "applied": "\(plan.applied.joined(separator: ","))", "restartRequired": "\(plan.restartRequired.joined(separator: ","))",
        ])
        return plan
    }

    /// Runs the services until they end. The first SIGTERM or SIGINT starts the graceful
    /// shutdown (SIP drains first); a second one ends the calls still recording at once.
    /// SIGHUP reloads the configuration.
    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [serviceGroup] in try await serviceGroup.run() }
            group.addTask { [serviceGroup, sip, logger, reloadSource, logLevel] in
                var count = 0
                for await signal in signals {
                    if signal == .sighup {
                        if let reloadSource {
                            _ = try? await Self.reload(sip: sip, source: reloadSource, logLevel: logLevel, logger: logger)
                        } else {
                            logger.warning("SIGHUP ignored: siprecd was started without --config")
                        }
                        continue
                    }
                    count += 1
                    if count == 1 {
                        logger.notice("termination signal: draining", metadata: ["signal": "\(signal)"])
                        await serviceGroup.triggerGracefulShutdown()
                    } else {
                        logger.notice("termination signal again: ending the calls now", metadata: ["signal": "\(signal)"])
                        sip.endCallsNow()
                    }
                }
            }
            // The services ended (drained and stopped, or failed): stop listening for signals.
            try await group.next()
            group.cancelAll()
        }
    }

    /// Every call holds descriptors (an RTP and an RTCP socket per stream, its spool file),
    /// and so do the sockets parked for later calls:
    /// the soft limit goes to the hard one, and a limit short of what the configured call
    /// capacity needs (two streams a call) is said at start, not found at the busiest hour
    /// as "too many open files".
    static func checkDescriptorLimit(maxCalls: Int, logger: Logger) {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(resource, &limit)
            _ = getrlimit(resource, &limit)
        }
        let needed = maxCalls * 5 + 1024 + 2 * MediaEngine.Settings().parkedSocketLimit
        if limit.rlim_cur < rlim_t(needed) {
            logger.warning("open-file limit below what sip.max-concurrent-calls needs: raise it (systemd LimitNOFILE) or lower the calls", metadata: [
                "limit": "\(limit.rlim_cur)", "needed": "\(needed)", "maxConcurrentCalls": "\(maxCalls)",
            ])
        }
    }

    static func gauge(_ name: String, _ help: String, _ value: Int) -> String {
        "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(value)\n"
    }

    static func counter(_ name: String, _ help: String, _ value: Int) -> String {
        "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name) \(value)\n"
    }
}

/// The admin API's view of the replication inbox (its errors as the API's).
struct InboxReceiver: ReplicationReceiver {
    let inbox: ReplicationInbox

    func status(recordingID: String, index: Int) async throws -> (receivedBytes: Int64, committed: Bool) {
        try await blocking { try inbox.status(recordingID: recordingID, index: index) }
    }

    func append(recordingID: String, index: Int, offset: Int64, bytes: [UInt8]) async throws -> Int64 {
        try await blocking { try inbox.append(recordingID: recordingID, index: index, offset: offset, bytes: bytes) }
    }

    func commit(recordingID: String, manifest: [UInt8]) async throws -> Bool {
        let decoded: ReplicationManifest
        do {
            decoded = try JSONDecoder().decode(ReplicationManifest.self, from: Data(manifest))
        } catch {
            throw ReplicationReceiveError.invalid("manifest is not valid JSON: \(error)")
        }
        guard decoded.recordingID == recordingID else { throw ReplicationReceiveError.invalid("manifest is for another recording") }
        return try await blocking { try inbox.commit(decoded) == .stored }
    }

    /// File writes, renames and SHA-256 of whole recordings: on NIO's thread pool, not on the
    /// task that serves the request (nor any event loop).
    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive { try mapped(body) }
    }

    private func mapped<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ReplicationError {
            switch error {
            case .offsetMismatch(let received): throw ReplicationReceiveError.offsetMismatch(received: received)
            case .checksumMismatch, .incomplete: throw ReplicationReceiveError.unprocessable(error.description)
            case .conflict: throw ReplicationReceiveError.conflict(error.description)
            case .invalid: throw ReplicationReceiveError.invalid(error.description)
            }
        }
    }
}

/// A closure run as a service.
struct TaskService: Service {
    let body: @Sendable () async throws -> Void
    init(_ body: @escaping @Sendable () async throws -> Void) { self.body = body }
    func run() async throws { try await body() }
}
