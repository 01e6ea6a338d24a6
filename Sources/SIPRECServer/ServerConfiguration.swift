import Foundation
import Logging
import Media
import NIOCore
import Recording
import SIPCore
import SIPLocator
import SIPRECMetadata
import SIPStack
import Yams

/// Everything siprecd can be told, with the embedded defaults. Sources, lowest first: these
/// defaults, the YAML file (`config/siprecd.yaml` documents every key), then command-line flags.
public struct ServerConfiguration: Sendable {
    public var sipListen: [SIPListenAddress] = [
        SIPListenAddress(transport: .udp, host: "0.0.0.0", port: 5060),
        SIPListenAddress(transport: .tcp, host: "0.0.0.0", port: 5060),
    ]
    public var httpListen: String = "127.0.0.1:8080"
    /// HTTPS for the admin API (`http.tls`); nil: plain HTTP.
    public var httpTLS: SIPTLSConfiguration?
    /// Size of the cache of audio converted for `?format=` (`http.conversion-cache-mb`).
    public var conversionCacheMegabytes = 2048
    /// `sqlite:PATH` (default `sqlite:<data-dir>/catalog.sqlite`) or `postgres://USER@HOST:PORT/DB`.
    public var database: String?
    /// This node's name in the catalog (journal positions); defaults to the host name.
    public var nodeName: String = ProcessInfo.processInfo.hostName
    /// `SIPRECD_API_TOKEN`: an admin API token that needs no catalog.
    public var apiBootstrapToken: String?
    /// Webhook endpoints (`webhooks.endpoints`), their secrets read from the environment.
    public var webhooks: [Webhook] = []
    public var webhookGiveUpAfter: Duration = .seconds(86_400)

    public struct Webhook: Sendable, Equatable {
        public var url: URL
        public var events: [String]
        /// The environment variable holding the HMAC key, and the key read from it.
        public var secretEnvironment: String?
        public var secret: String?
    }

    /// Retention and export, run by the node holding the job leadership.
    public var retentionDays = 0
    public var retentionTenantDays: [String: Int] = [:]
    public var retentionInterval: Duration = .seconds(3600)
    public var exportFolder: String?
    public var exportInterval: Duration = .seconds(300)
    public var leaderCheckInterval: Duration = .seconds(5)

    /// The name server for the DNS lookups of peers and webhooks (`dns.server`, `IP[:PORT]`);
    /// nil: the system's (`/etc/resolv.conf`).
    public var dnsServer: String?

    /// Peers this node sends its finished recordings to (`replication.peers`).
    public var replicationPeers: [ReplicationPeerSetting] = []

    public struct ReplicationPeerSetting: Sendable, Equatable {
        public var name: String
        public var url: URL
        /// The environment variable holding the peer's admin token, and the token read from it.
        public var tokenEnvironment: String?
        public var token: String?
        /// Upload cap toward the peer, bytes per second (nil: none).
        public var maxBytesPerSecond: Int?
    }

    /// The configuration file, for `POST /api/v1/admin/reload`.
    public var configurationFile: String?

    /// The catalog URL in effect.
    public var databaseURL: String { database ?? "sqlite:\(dataDirectory)/catalog.sqlite" }
    public var dataDirectory: String = "./var"
    public var rtpPorts: ClosedRange<Int> = 20000...39999
    /// accept: SRTP and plain RTP are recorded; require: plain RTP offers get 488.
    public var srtpPolicy: SRTPPolicy = .accept
    public var advertisedHost: String?
    public var trustedNetworks: TrustedNetworks = .everyone
    public var timers = SIPTimerConfiguration()
    public var limits = SIPParserLimits()
    public var incompleteMessageTimeout: Duration = .seconds(10)
    /// Delay before INVITEs are answered (0 in production; tests use it to exercise CANCEL).
    public var answerDelay: Duration = .zero
    /// After SIGTERM, how long calls in progress may go on recording before the recorder ends
    /// them with a BYE (a second SIGTERM ends them at once).
    public var drainTimeout: Duration = .seconds(900)
    public var maxConcurrentCalls = 10_000
    /// Media streams one session may ask for; an offer with more m-lines gets 488.
    public var maxStreamsPerCall = 16
    /// Accepted TCP/TLS connections at once; more are closed at once.
    public var maxConnections = 4096
    /// SIP server transactions at once; beyond it requests get a stateless 503.
    public var maxTransactions = 500_000
    /// RFC 4028 Min-SE in seconds: a shorter Session-Expires gets 422.
    public var minSessionExpires = 90
    public var tls: SIPTLSConfiguration?
    public var logLevel: Logger.Level = .info
    /// Networks whose Cisco Unified CM Built-in-Bridge INVITEs are recorded (the CUCM trunks).
    public var builtInBridgeSources: TrustedNetworks = .everyone
    /// Networks whose plain INVITEs (no SIPREC, no Built-in-Bridge) are recorded.
    public var plainCallSources: TrustedNetworks = .everyone
    /// The tenant of a recording by the address its SRC sent from (`sessions.tenants`, first
    /// match wins); recordings from elsewhere belong to `default`.
    public var tenants: [(name: String, sources: TrustedNetworks)] = []

    /// The tenant of a recording whose first INVITE came from `address`.
    public func tenant(for address: SocketAddress) -> String? {
        tenants.first { $0.sources.contains(address) }?.name
    }
    /// Size, depth and element limits for RFC 7865 metadata documents.
    public var metadataLimits = MetadataLimits()
    /// Metadata documents kept per recording: the first and the latest ones.
    public var maxMetadataVersions = 64
    /// Communication-session, group and Built-in-Bridge keys remembered to link later
    /// recordings of the same interaction as its next segments.
    public var interactionIndexSize = 100_000
    /// Where audio goes and how it is laid out (the `recording:` section).
    public var recording = RecordingSettings()

    public init() {}

    /// The `recording:` section and the media engine's timing.
    public struct RecordingSettings: Sendable, Equatable {
        public enum Layout: String, Sendable { case stereo, mono, perStream = "per-stream" }
        /// stereo: one party per channel (caller/callee by the SIPREC metadata, near/far end
        /// for Built-in-Bridge); mono: everything mixed; per-stream: one mono file per stream.
        public var layout: Layout = .stereo
        /// The archived file's format (the spool is WAV PCM; others are converted at the end).
        public var format: AudioFormat = .wav
        /// nil: `<data-dir>/spool` and `<data-dir>/archive`.
        public var spoolDirectory: String?
        public var archiveDirectory: String?
        public var archiveTemplate = "{yyyy}/{MM}/{dd}/{recording}.wav"
        /// Below this much free spool space new calls get 503.
        public var minimumFreeMegabytes = 256
        /// How far behind real time audio is written, for late and reordered packets.
        public var playoutDelay: Duration = .milliseconds(300)
        /// A stream silent this long is noted on the recording.
        public var streamTimeout: Duration = .seconds(30)
        /// A call with no packet at all for this long is ended with a BYE (0: never).
        public var noMediaTimeout: Duration = .seconds(300)
        /// The address media sockets bind to; IPv6 offers bind `::`.
        public var mediaBindAddress = "0.0.0.0"
        /// How long an ended stream's parked socket rests before a new call gets it
        /// (`decisions/0018`). Not a configuration key: tests shorten it.
        public var parkedSocketRest = MediaEngine.Settings().parkedSocketRest
        public init() {}

        public func spool(in dataDirectory: String) -> String { spoolDirectory ?? dataDirectory + "/spool" }
        public func archive(in dataDirectory: String) -> String { archiveDirectory ?? dataDirectory + "/archive" }
    }

    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var key: String
        public var problem: String
        public var description: String { "configuration \(key): \(problem)" }
    }

    // MARK: - YAML

    struct File: Decodable {
        struct SIP: Decodable {
            struct Timers: Decodable {
                var t1Ms: Int?
                var t2Ms: Int?
                var t4Ms: Int?
                enum CodingKeys: String, CodingKey { case t1Ms = "t1-ms", t2Ms = "t2-ms", t4Ms = "t4-ms" }
            }
            struct Limits: Decodable {
                var maxMessageSize: Int?
                var maxHeaderSectionSize: Int?
                var maxHeaderCount: Int?
                enum CodingKeys: String, CodingKey {
                    case maxMessageSize = "max-message-size", maxHeaderSectionSize = "max-header-section-size", maxHeaderCount = "max-header-count"
                }
            }
            struct TLS: Decodable {
                var certificate: String?
                var privateKey: String?
                var clientCA: String?
                var requireClientCertificate: Bool?
                var handshakeTimeoutMs: Int?
                enum CodingKeys: String, CodingKey {
                    case certificate, privateKey = "private-key", clientCA = "client-ca"
                    case requireClientCertificate = "require-client-certificate", handshakeTimeoutMs = "handshake-timeout-ms"
                }
            }
            var listen: [String]?
            var advertisedHost: String?
            var trustedNetworks: [String]?
            var timers: Timers?
            var limits: Limits?
            var incompleteMessageTimeoutMs: Int?
            var answerDelayMs: Int?
            var maxConcurrentCalls: Int?
            var maxStreamsPerCall: Int?
            var maxConnections: Int?
            var maxTransactions: Int?
            var minSessionExpires: Int?
            var drainTimeoutS: Int?
            var tls: TLS?
            enum CodingKeys: String, CodingKey {
                case listen, advertisedHost = "advertised-host", trustedNetworks = "trusted-networks", timers, limits
                case incompleteMessageTimeoutMs = "incomplete-message-timeout-ms", answerDelayMs = "answer-delay-ms"
                case maxConcurrentCalls = "max-concurrent-calls", maxStreamsPerCall = "max-streams-per-call"
                case maxConnections = "max-connections", maxTransactions = "max-transactions"
                case minSessionExpires = "min-session-expires", tls, drainTimeoutS = "drain-timeout-s"
            }
        }
        struct HTTP: Decodable {
            struct TLS: Decodable {
                var certificate: String?
                var privateKey: String?
                var clientCA: String?
                var requireClientCertificate: Bool?
                enum CodingKeys: String, CodingKey {
                    case certificate, privateKey = "private-key", clientCA = "client-ca", requireClientCertificate = "require-client-certificate"
                }
            }
            var listen: String?
            var tls: TLS?
            var conversionCacheMB: Int?
            enum CodingKeys: String, CodingKey { case listen, tls, conversionCacheMB = "conversion-cache-mb" }
        }
        struct Retention: Decodable {
            var days: Int?
            var tenants: [String: Int]?
            var intervalS: Int?
            enum CodingKeys: String, CodingKey { case days, tenants, intervalS = "interval-s" }
        }
        struct Export: Decodable {
            var folder: String?
            var intervalS: Int?
            enum CodingKeys: String, CodingKey { case folder, intervalS = "interval-s" }
        }
        struct DNS: Decodable { var server: String? }
        struct Jobs: Decodable {
            var leaderCheckS: Int?
            enum CodingKeys: String, CodingKey { case leaderCheckS = "leader-check-s" }
        }
        struct Replication: Decodable {
            struct Peer: Decodable {
                var name: String?
                var url: String
                var tokenEnv: String?
                var maxKbps: Int?
                enum CodingKeys: String, CodingKey { case name, url, tokenEnv = "token-env", maxKbps = "max-kbps" }
            }
            var peers: [Peer]?
        }
        struct Catalog: Decodable { var database: String?; var node: String? }
        struct Webhooks: Decodable {
            struct Endpoint: Decodable {
                var url: String
                var events: [String]?
                var secretEnv: String?
                enum CodingKeys: String, CodingKey { case url, events, secretEnv = "secret-env" }
            }
            var endpoints: [Endpoint]?
            var giveUpAfterS: Int?
            enum CodingKeys: String, CodingKey { case endpoints, giveUpAfterS = "give-up-after-s" }
        }
        struct Media: Decodable {
            var rtpPorts: String?
            var srtp: String?
            enum CodingKeys: String, CodingKey { case rtpPorts = "rtp-ports", srtp }
        }
        struct Log: Decodable { var level: String? }
        struct Sessions: Decodable {
            struct Metadata: Decodable {
                var maxBytes: Int?
                var maxDepth: Int?
                var maxElements: Int?
                var maxVersions: Int?
                enum CodingKeys: String, CodingKey {
                    case maxBytes = "max-bytes", maxDepth = "max-depth", maxElements = "max-elements", maxVersions = "max-versions"
                }
            }
            struct Tenant: Decodable {
                var name: String
                var sources: [String]
            }
            var bibSources: [String]?
            var plainSources: [String]?
            var metadata: Metadata?
            var interactionIndexSize: Int?
            var tenants: [Tenant]?
            enum CodingKeys: String, CodingKey {
                case bibSources = "bib-sources", plainSources = "plain-sources", metadata, interactionIndexSize = "interaction-index-size", tenants
            }
        }
        struct Recording: Decodable {
            var layout: String?
            var format: String?
            var spoolDir: String?
            var archiveDir: String?
            var archiveTemplate: String?
            var spoolMinFreeMB: Int?
            var playoutDelayMs: Int?
            var streamTimeoutS: Int?
            var noMediaTimeoutS: Int?
            var mediaBindAddress: String?
            enum CodingKeys: String, CodingKey {
                case layout, format, spoolDir = "spool-dir", archiveDir = "archive-dir", archiveTemplate = "archive-template"
                case spoolMinFreeMB = "spool-min-free-mb", playoutDelayMs = "playout-delay-ms", streamTimeoutS = "stream-timeout-s"
                case noMediaTimeoutS = "no-media-timeout-s", mediaBindAddress = "media-bind-address"
            }
        }
        var sip: SIP?
        var sessions: Sessions?
        var recording: Recording?
        var http: HTTP?
        var catalog: Catalog?
        var webhooks: Webhooks?
        var replication: Replication?
        var retention: Retention?
        var export: Export?
        var jobs: Jobs?
        var dns: DNS?
        var dataDir: String?
        var media: Media?
        var log: Log?
        enum CodingKeys: String, CodingKey {
            case sip, sessions, recording, http, catalog, webhooks, replication, retention, export, jobs, dns, dataDir = "data-dir", media, log
        }
    }

    /// Applies a YAML document on top of the current values.
    public mutating func apply(yaml text: String) throws {
        let file: File
        do {
            file = try YAMLDecoder().decode(File.self, from: text.isEmpty ? "{}" : text)
        } catch {
            throw Error(key: "(file)", problem: "not valid YAML for siprecd: \(error)")
        }
        if let sip = file.sip {
            if let listen = sip.listen { try setSIPListen(listen) }
            if let host = sip.advertisedHost { advertisedHost = host }
            if let networks = sip.trustedNetworks { trustedNetworks = try Self.networks(networks, key: "sip.trusted-networks") }
            if let t = sip.timers {
                if let v = t.t1Ms { timers.t1 = try Self.milliseconds(v, key: "sip.timers.t1-ms", minimum: 1) }
                if let v = t.t2Ms { timers.t2 = try Self.milliseconds(v, key: "sip.timers.t2-ms", minimum: 1) }
                if let v = t.t4Ms { timers.t4 = try Self.milliseconds(v, key: "sip.timers.t4-ms", minimum: 1) }
            }
            if let l = sip.limits {
                if let v = l.maxMessageSize { limits.maxMessageSize = try Self.positive(v, key: "sip.limits.max-message-size", minimum: 1024) }
                if let v = l.maxHeaderSectionSize { limits.maxHeaderSectionSize = try Self.positive(v, key: "sip.limits.max-header-section-size", minimum: 512) }
                if let v = l.maxHeaderCount { limits.maxHeaderCount = try Self.positive(v, key: "sip.limits.max-header-count", minimum: 8) }
            }
            if let v = sip.incompleteMessageTimeoutMs { incompleteMessageTimeout = try Self.milliseconds(v, key: "sip.incomplete-message-timeout-ms", minimum: 100) }
            if let v = sip.answerDelayMs { answerDelay = try Self.milliseconds(v, key: "sip.answer-delay-ms", minimum: 0) }
            if let v = sip.drainTimeoutS { drainTimeout = .seconds(try Self.positive(v, key: "sip.drain-timeout-s", minimum: 0)) }
            if let v = sip.maxConcurrentCalls { maxConcurrentCalls = try Self.positive(v, key: "sip.max-concurrent-calls", minimum: 1) }
            if let v = sip.maxStreamsPerCall { maxStreamsPerCall = try Self.positive(v, key: "sip.max-streams-per-call", minimum: 1) }
            if let v = sip.maxConnections { maxConnections = try Self.positive(v, key: "sip.max-connections", minimum: 1) }
            if let v = sip.maxTransactions { maxTransactions = try Self.positive(v, key: "sip.max-transactions", minimum: 16) }
            if let v = sip.minSessionExpires { minSessionExpires = try Self.positive(v, key: "sip.min-session-expires", minimum: 90) }
            if let tlsFile = sip.tls, var tls = try Self.tls(certificate: tlsFile.certificate, privateKey: tlsFile.privateKey, clientCA: tlsFile.clientCA,
                                                                 requireClientCertificate: tlsFile.requireClientCertificate, key: "sip.tls") {
                if let v = tlsFile.handshakeTimeoutMs { tls.handshakeTimeout = try Self.milliseconds(v, key: "sip.tls.handshake-timeout-ms", minimum: 100) }
                self.tls = tls
            }
        }
        if let sessions = file.sessions {
            if let networks = sessions.bibSources { builtInBridgeSources = try Self.networks(networks, key: "sessions.bib-sources") }
            if let networks = sessions.plainSources { plainCallSources = try Self.networks(networks, key: "sessions.plain-sources") }
            if let list = sessions.tenants {
                tenants = try list.enumerated().map { index, tenant in
                    let name = tenant.name.trimmingCharacters(in: .whitespaces)
                    guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                        throw Error(key: "sessions.tenants[\(index)].name", problem: "must be 1-64 letters, digits, '-', '_' or '.'")
                    }
                    return (name, try Self.networks(tenant.sources, key: "sessions.tenants[\(index)].sources"))
                }
            }
            if let m = sessions.metadata {
                if let v = m.maxBytes { metadataLimits.maxBytes = try Self.positive(v, key: "sessions.metadata.max-bytes", minimum: 1024) }
                if let v = m.maxDepth { metadataLimits.maxDepth = try Self.positive(v, key: "sessions.metadata.max-depth", minimum: 4) }
                if let v = m.maxElements { metadataLimits.maxElements = try Self.positive(v, key: "sessions.metadata.max-elements", minimum: 16) }
                if let v = m.maxVersions { maxMetadataVersions = try Self.positive(v, key: "sessions.metadata.max-versions", minimum: 2) }
            }
            if let v = sessions.interactionIndexSize { interactionIndexSize = try Self.positive(v, key: "sessions.interaction-index-size", minimum: 1) }
        }
        if let r = file.recording {
            if let v = r.layout {
                guard let layout = RecordingSettings.Layout(rawValue: v) else { throw Error(key: "recording.layout", problem: "'\(v)' is not stereo, mono or per-stream") }
                recording.layout = layout
            }
            if let v = r.format {
                guard let format = AudioFormat(rawValue: v) else {
                    throw Error(key: "recording.format", problem: "'\(v)' is not one of \(AudioFormat.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                recording.format = format
            }
            if let v = r.spoolDir { recording.spoolDirectory = v }
            if let v = r.archiveDir { recording.archiveDirectory = v }
            if let v = r.archiveTemplate {
                do { _ = try ArchiveTemplate(v) } catch { throw Error(key: "recording.archive-template", problem: error.problem) }
                recording.archiveTemplate = v
            }
            if let v = r.spoolMinFreeMB { recording.minimumFreeMegabytes = try Self.positive(v, key: "recording.spool-min-free-mb", minimum: 0) }
            if let v = r.playoutDelayMs { recording.playoutDelay = try Self.milliseconds(v, key: "recording.playout-delay-ms", minimum: 20) }
            if let v = r.streamTimeoutS { recording.streamTimeout = .seconds(try Self.positive(v, key: "recording.stream-timeout-s", minimum: 1)) }
            if let v = r.noMediaTimeoutS { recording.noMediaTimeout = .seconds(try Self.positive(v, key: "recording.no-media-timeout-s", minimum: 0)) }
            if let v = r.mediaBindAddress { recording.mediaBindAddress = v }
        }
        if let listen = file.http?.listen { httpListen = listen }
        if let v = file.http?.conversionCacheMB { conversionCacheMegabytes = try Self.positive(v, key: "http.conversion-cache-mb", minimum: 16) }
        if let tlsFile = file.http?.tls {
            httpTLS = try Self.tls(certificate: tlsFile.certificate, privateKey: tlsFile.privateKey, clientCA: tlsFile.clientCA,
                                   requireClientCertificate: tlsFile.requireClientCertificate, key: "http.tls")
        }
        if let dir = file.dataDir { dataDirectory = dir }
        if let database = file.catalog?.database { self.database = database }
        if let node = file.catalog?.node { nodeName = node }
        if let hooks = file.webhooks {
            let known = ["call.started", "call.ended", "recording.available"]
            webhooks = try (hooks.endpoints ?? []).enumerated().map { index, endpoint in
                guard let url = URL(string: endpoint.url), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                    throw Error(key: "webhooks.endpoints[\(index)].url", problem: "must be an http or https URL")
                }
                let events = endpoint.events ?? known
                if let odd = events.first(where: { !known.contains($0) }) {
                    throw Error(key: "webhooks.endpoints[\(index)].events", problem: "unknown event \(odd) (known: \(known.joined(separator: ", ")))")
                }
                return Webhook(url: url, events: events, secretEnvironment: endpoint.secretEnv, secret: nil)
            }
            if let seconds = hooks.giveUpAfterS {
                guard seconds > 0 else { throw Error(key: "webhooks.give-up-after-s", problem: "must be positive") }
                webhookGiveUpAfter = .seconds(seconds)
            }
        }
        if let retention = file.retention {
            if let days = retention.days { retentionDays = try Self.positive(days, key: "retention.days", minimum: 0) }
            for (tenant, days) in retention.tenants ?? [:] {
                retentionTenantDays[tenant] = try Self.positive(days, key: "retention.tenants.\(tenant)", minimum: 0)
            }
            if let v = retention.intervalS { retentionInterval = .seconds(try Self.positive(v, key: "retention.interval-s", minimum: 1)) }
        }
        if let export = file.export {
            if let folder = export.folder { exportFolder = folder.isEmpty ? nil : folder }
            if let v = export.intervalS { exportInterval = .seconds(try Self.positive(v, key: "export.interval-s", minimum: 1)) }
        }
        if let server = file.dns?.server, !server.isEmpty {
            guard DNSNameServer(parsing: server) != nil else { throw Error(key: "dns.server", problem: "must be IP or IP:PORT") }
            dnsServer = server
        }
        if let v = file.jobs?.leaderCheckS { leaderCheckInterval = .seconds(try Self.positive(v, key: "jobs.leader-check-s", minimum: 1)) }
        if let replication = file.replication {
            replicationPeers = try (replication.peers ?? []).enumerated().map { index, peer in
                guard let url = URL(string: peer.url), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                    throw Error(key: "replication.peers[\(index)].url", problem: "must be an http or https URL of the peer's admin API")
                }
                if let kbps = peer.maxKbps, kbps <= 0 {
                    throw Error(key: "replication.peers[\(index)].max-kbps", problem: "must be positive (leave it out for no cap)")
                }
                return ReplicationPeerSetting(name: peer.name ?? url.host ?? "peer\(index)", url: url, tokenEnvironment: peer.tokenEnv,
                                              token: nil, maxBytesPerSecond: peer.maxKbps.map { $0 * 1000 / 8 })
            }
            if Set(replicationPeers.map(\.name)).count != replicationPeers.count {
                throw Error(key: "replication.peers", problem: "peer names must differ")
            }
        }
        if let ports = file.media?.rtpPorts { try setRTPPorts(ports) }
        if let value = file.media?.srtp {
            guard let policy = SRTPPolicy(rawValue: value) else { throw Error(key: "media.srtp", problem: "'\(value)' is not accept or require") }
            srtpPolicy = policy
        }
        if let level = file.log?.level { try setLogLevel(level) }
    }

    public mutating func setSIPListen(_ values: [String]) throws {
        var parsed: [SIPListenAddress] = []
        for value in values {
            guard let address = SIPListenAddress(parsing: value) else {
                throw Error(key: "sip.listen", problem: "'\(value)' is not udp|tcp|tls:HOST:PORT")
            }
            parsed.append(address)
        }
        guard !parsed.isEmpty else { throw Error(key: "sip.listen", problem: "at least one listener is needed") }
        sipListen = parsed
    }

    public mutating func setRTPPorts(_ value: String) throws {
        guard let range = RTPPortPool.parseRange(value) else {
            throw Error(key: "media.rtp-ports", problem: "'\(value)' is not LOW-HIGH within 1024-65535")
        }
        rtpPorts = range
    }

    public mutating func setLogLevel(_ value: String) throws {
        guard let level = Logger.Level(rawValue: value.lowercased()) else {
            throw Error(key: "log.level", problem: "'\(value)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        logLevel = level
    }

    /// Secrets come from the environment only: `SIPRECD_TLS_KEY_PASSPHRASE` unlocks an
    /// encrypted TLS private key.
    public mutating func apply(environment: [String: String]) {
        if let passphrase = environment["SIPRECD_TLS_KEY_PASSPHRASE"], !passphrase.isEmpty {
            tls?.privateKeyPassphrase = passphrase
        }
        if let passphrase = environment["SIPRECD_HTTP_TLS_KEY_PASSPHRASE"], !passphrase.isEmpty {
            httpTLS?.privateKeyPassphrase = passphrase
        }
        if let token = environment["SIPRECD_API_TOKEN"], !token.isEmpty { apiBootstrapToken = token }
        for index in replicationPeers.indices {
            if let name = replicationPeers[index].tokenEnvironment, let token = environment[name], !token.isEmpty {
                replicationPeers[index].token = token
            }
        }
        for index in webhooks.indices {
            if let name = webhooks[index].secretEnvironment, let secret = environment[name], !secret.isEmpty {
                webhooks[index].secret = secret
            }
        }
        // A password kept out of the file: postgres://user@host/db plus SIPRECD_DATABASE_PASSWORD.
        if let password = environment["SIPRECD_DATABASE_PASSWORD"], !password.isEmpty,
           let url = database, url.hasPrefix("postgres"), var components = URLComponents(string: url), components.password == nil {
            components.password = password
            database = components.string
        }
    }

    /// Checks what only makes sense as a whole.
    public func validate() throws {
        let url = databaseURL
        if !(url.hasPrefix("sqlite:") || url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")) {
            throw Error(key: "catalog.database", problem: "must be sqlite:PATH or postgres://USER@HOST:PORT/DATABASE")
        }
        if HTTPListen(httpListen) == nil {
            throw Error(key: "http.listen", problem: "must be HOST:PORT")
        }
        if sipListen.contains(where: { $0.transport == .tls }) && tls == nil {
            throw Error(key: "sip.tls", problem: "a tls: listener needs sip.tls.certificate and sip.tls.private-key")
        }
        if timers.t2 < timers.t1 { throw Error(key: "sip.timers.t2-ms", problem: "must not be below t1") }
        // The ring of each stream holds about 4 s: a flush each second plus this delay must fit.
        if recording.playoutDelay > .milliseconds(2000) {
            throw Error(key: "recording.playout-delay-ms", problem: "must be at most 2000")
        }
    }

    static func milliseconds(_ value: Int, key: String, minimum: Int) throws -> Duration {
        guard value >= minimum, value <= 3_600_000 else { throw Error(key: key, problem: "must be between \(minimum) and 3600000") }
        return .milliseconds(value)
    }

    static func networks(_ values: [String], key: String) throws -> TrustedNetworks {
        guard let parsed = TrustedNetworks(parsing: values) else {
            throw Error(key: key, problem: "every entry must be an address or CIDR network")
        }
        return parsed
    }

    /// TLS listener settings from a `tls` section (`key`: `sip.tls` or `http.tls`); nil without
    /// a certificate. A key is required with it, and a client CA when client certificates are.
    static func tls(certificate: String?, privateKey: String?, clientCA: String?, requireClientCertificate: Bool?,
                    key: String) throws -> SIPTLSConfiguration? {
        guard let certificate, !certificate.isEmpty else { return nil }
        guard let privateKey, !privateKey.isEmpty else { throw Error(key: "\(key).private-key", problem: "required with \(key).certificate") }
        let clientCA = clientCA.flatMap { $0.isEmpty ? nil : $0 }
        let tls = SIPTLSConfiguration(certificateChainFile: certificate, privateKeyFile: privateKey, trustRootsFile: clientCA,
                                      requireClientCertificate: requireClientCertificate ?? false)
        if tls.requireClientCertificate && tls.trustRootsFile == nil {
            throw Error(key: "\(key).client-ca", problem: "required when require-client-certificate is true")
        }
        return tls
    }

    static func positive(_ value: Int, key: String, minimum: Int) throws -> Int {
        guard value >= minimum else { throw Error(key: key, problem: "must be at least \(minimum)") }
        return value
    }
}

/// `HOST:PORT` of the admin HTTP listener (`[::1]:8080` for IPv6).
public struct HTTPListen: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }
}
