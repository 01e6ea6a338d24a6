import Foundation
import Logging
import SIPStack
import NIOCore
import Testing
@testable import SIPRECServer

@Suite("Configuration")
struct ServerConfigurationTests {
    @Test("the example configuration file parses and equals the built-in defaults")
    func exampleFileIsDefaults() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config/siprecd.yaml")
        var fromFile = ServerConfiguration()
        try fromFile.apply(yaml: try String(contentsOf: url, encoding: .utf8))
        let defaults = ServerConfiguration()
        #expect(fromFile.sipListen == defaults.sipListen)
        #expect(fromFile.httpListen == defaults.httpListen)
        #expect(fromFile.conversionCacheMegabytes == defaults.conversionCacheMegabytes)
        #expect(fromFile.dataDirectory == defaults.dataDirectory)
        #expect(fromFile.rtpPorts == defaults.rtpPorts)
        #expect(fromFile.trustedNetworks == defaults.trustedNetworks)
        #expect(fromFile.timers == defaults.timers)
        #expect(fromFile.limits == defaults.limits)
        #expect(fromFile.incompleteMessageTimeout == defaults.incompleteMessageTimeout)
        #expect(fromFile.answerDelay == defaults.answerDelay)
        #expect(fromFile.maxConcurrentCalls == defaults.maxConcurrentCalls)
        #expect(fromFile.maxStreamsPerCall == defaults.maxStreamsPerCall)
        #expect(fromFile.maxConnections == defaults.maxConnections)
        #expect(fromFile.maxTransactions == defaults.maxTransactions)
        #expect(fromFile.minSessionExpires == defaults.minSessionExpires)
        #expect(fromFile.tls == nil)
        #expect(fromFile.logLevel == defaults.logLevel)
        #expect(fromFile.builtInBridgeSources == defaults.builtInBridgeSources)
        #expect(fromFile.plainCallSources == defaults.plainCallSources)
        #expect(fromFile.metadataLimits.maxBytes == defaults.metadataLimits.maxBytes)
        #expect(fromFile.metadataLimits.maxDepth == defaults.metadataLimits.maxDepth)
        #expect(fromFile.metadataLimits.maxElements == defaults.metadataLimits.maxElements)
        #expect(fromFile.interactionIndexSize == defaults.interactionIndexSize)
        #expect(fromFile.maxMetadataVersions == defaults.maxMetadataVersions)
        #expect(fromFile.recording == defaults.recording)
        #expect(fromFile.srtpPolicy == defaults.srtpPolicy)
        // Every section of the file was read (a key the decoder does not know is ignored, so
        // check that a changed value in each new section takes effect).
        var changed = ServerConfiguration()
        try changed.apply(yaml: "sessions:\n  bib-sources: [192.0.2.25/32]\n  metadata: {max-bytes: 4096, max-versions: 3}\n  interaction-index-size: 10\n")
        #expect(changed.maxMetadataVersions == 3)
        #expect(changed.builtInBridgeSources != defaults.builtInBridgeSources)
        #expect(changed.metadataLimits.maxBytes == 4096)
        #expect(changed.interactionIndexSize == 10)
        try changed.apply(yaml: "recording:\n  layout: mono\n  archive-template: \"{callid}/{recording}.wav\"\n  no-media-timeout-s: 0\n  spool-dir: /tmp/s\n")
        #expect(changed.recording.layout == .mono)
        try changed.apply(yaml: "recording:\n  format: flac\nmedia:\n  srtp: require\n")
        #expect(changed.recording.format == .flac)
        #expect(changed.srtpPolicy == .require)
        #expect(changed.recording.archiveTemplate == "{callid}/{recording}.wav")
        #expect(changed.recording.noMediaTimeout == .zero)
        #expect(changed.recording.spool(in: "/d") == "/tmp/s")
        #expect(changed.recording.archive(in: "/d") == "/d/archive")
        #expect(fromFile.database == nil)
        #expect(fromFile.webhooks.isEmpty)
        #expect(fromFile.webhookGiveUpAfter == defaults.webhookGiveUpAfter)
        try changed.apply(yaml: "catalog:\n  database: postgres://siprecd@db.example.com:5432/siprecd\n  node: rec-1\nwebhooks:\n  endpoints:\n    - url: https://crm.example.com/hook\n      events: [call.ended]\n      secret-env: HOOK_KEY\n  give-up-after-s: 60\n")
        changed.apply(environment: ["HOOK_KEY": "k1", "SIPRECD_DATABASE_PASSWORD": "pw", "SIPRECD_API_TOKEN": "t"])
        #expect(changed.databaseURL == "postgres://siprecd:pw@db.example.com:5432/siprecd")
        #expect(changed.nodeName == "rec-1")
        #expect(changed.webhooks.first?.events == ["call.ended"])
        #expect(changed.webhooks.first?.secret == "k1")
        #expect(changed.webhookGiveUpAfter == .seconds(60))
        #expect(changed.apiBootstrapToken == "t")
        #expect(ServerConfiguration().databaseURL == "sqlite:./var/catalog.sqlite")
    }

    @Test("bad catalog and webhook settings are refused with the key named")
    func badCatalogAndWebhooks() throws {
        var configuration = ServerConfiguration()
        #expect(throws: ServerConfiguration.Error.self) {
            try configuration.apply(yaml: "webhooks:\n  endpoints:\n    - url: ftp://crm.example.com/\n")
        }
        #expect(throws: ServerConfiguration.Error.self) {
            try configuration.apply(yaml: "webhooks:\n  endpoints:\n    - url: https://crm.example.com/\n      events: [call.exploded]\n")
        }
        configuration.database = "mysql://db.example.com/x"
        #expect(throws: ServerConfiguration.Error.self) { try configuration.validate() }
        configuration.database = nil
        configuration.httpListen = "nowhere"
        #expect(throws: ServerConfiguration.Error.self) { try configuration.validate() }
    }

    @Test("values from YAML override defaults")
    func overrides() throws {
        var configuration = ServerConfiguration()
        try configuration.apply(yaml: """
        sip:
          listen: ["udp:[::1]:5070", "tls:0.0.0.0:5061"]
          trusted-networks: [192.0.2.0/24]
          timers: {t1-ms: 250, t2-ms: 2000}
          tls: {certificate: /etc/siprecd/cert.pem, private-key: /etc/siprecd/key.pem}
        media:
          rtp-ports: 30000-30100
        log:
          level: debug
        """)
        #expect(configuration.sipListen.map(\.description) == ["udp:[::1]:5070", "tls:0.0.0.0:5061"])
        #expect(configuration.timers.t1 == .milliseconds(250))
        #expect(configuration.timers.transactionTimeout == .milliseconds(16000))
        #expect(configuration.rtpPorts == 30000...30100)
        #expect(configuration.tls?.certificateChainFile == "/etc/siprecd/cert.pem")
        #expect(configuration.logLevel == .debug)
        try configuration.validate()
    }

    @Test("bad values name the key", arguments: [
        ("sip:\n  listen: [sctp:0.0.0.0:5060]\n", "sip.listen"),
        ("sip:\n  trusted-networks: [not-a-network]\n", "sip.trusted-networks"),
        ("sip:\n  timers: {t1-ms: 0}\n", "sip.timers.t1-ms"),
        ("media:\n  rtp-ports: 70000-80000\n", "media.rtp-ports"),
        ("log:\n  level: loud\n", "log.level"),
        ("sip:\n  tls: {certificate: /x.pem}\n", "sip.tls.private-key"),
        ("sip: [", "(file)"),
        ("sessions:\n  bib-sources: [cucm]\n", "sessions.bib-sources"),
        ("recording:\n  layout: surround\n", "recording.layout"),
        ("recording:\n  format: aiff\n", "recording.format"),
        ("media:\n  srtp: maybe\n", "media.srtp"),
        ("recording:\n  archive-template: \"{callid}.wav\"\n", "recording.archive-template"),
        ("recording:\n  playout-delay-ms: 5\n", "recording.playout-delay-ms"),
        ("sessions:\n  metadata: {max-depth: 1}\n", "sessions.metadata.max-depth"),
        ("sip:\n  drain-timeout-s: -1\n", "sip.drain-timeout-s"),
        ("dns:\n  server: resolver.example.com\n", "dns.server"),
        ("http:\n  tls: {certificate: /x.pem}\n", "http.tls.private-key"),
        ("sessions:\n  tenants: [{name: 'a b', sources: [192.0.2.0/24]}]\n", "sessions.tenants[0].name"),
        ("sessions:\n  tenants: [{name: bank, sources: [bank-net]}]\n", "sessions.tenants[0].sources"),
        ("http:\n  tls: {certificate: /x.pem, private-key: /x.key, require-client-certificate: true}\n", "http.tls.client-ca"),
        ("retention:\n  days: -5\n", "retention.days"),
        ("replication:\n  peers: [{url: ftp://node2.example.com}]\n", "replication.peers[0].url"),
        ("replication:\n  peers: [{url: http://node2.example.com, max-kbps: 0}]\n", "replication.peers[0].max-kbps"),
        ("replication:\n  peers: [{name: a, url: http://a.example.com}, {name: a, url: http://b.example.com}]\n", "replication.peers"),
    ])
    func badValues(yaml: String, key: String) {
        var configuration = ServerConfiguration()
        #expect(throws: ServerConfiguration.Error.self) { try configuration.apply(yaml: yaml) }
        do { try configuration.apply(yaml: yaml) } catch let error as ServerConfiguration.Error {
            #expect(error.key == key)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("drain timeout and replication peers, with the peer's token from the environment")
    func drainAndReplication() throws {
        var configuration = ServerConfiguration()
        #expect(configuration.drainTimeout == .seconds(900))
        #expect(configuration.replicationPeers.isEmpty)
        try configuration.apply(yaml: """
            sip:
              drain-timeout-s: 60
            replication:
              peers:
                - name: node2
                  url: https://node2.example.com:8443
                  token-env: PEER_TOKEN
                  max-kbps: 16000
                - url: http://node3.example.com:8080
            """)
        configuration.apply(environment: ["PEER_TOKEN": "secret-2"])
        #expect(configuration.drainTimeout == .seconds(60))
        #expect(configuration.replicationPeers.map(\.name) == ["node2", "node3.example.com"])
        #expect(configuration.replicationPeers.first?.token == "secret-2")
        #expect(configuration.replicationPeers.first?.maxBytesPerSecond == 2_000_000)
        #expect(configuration.replicationPeers.last?.token == nil)
        #expect(configuration.replicationPeers.last?.maxBytesPerSecond == nil)
        try configuration.apply(yaml: "dns:\n  server: 192.0.2.53:5353\nretention:\n  days: 365\n  tenants: {bank: 2555}\nexport:\n  folder: /srv/export\n")
        #expect(configuration.dnsServer == "192.0.2.53:5353")
        #expect(configuration.retentionDays == 365)
        #expect(configuration.retentionTenantDays == ["bank": 2555])
        #expect(configuration.exportFolder == "/srv/export")
        try configuration.apply(yaml: """
            sessions:
              tenants:
                - name: bank
                  sources: [192.0.2.0/25]
                - name: support
                  sources: [192.0.2.0/24, 2001:db8:1::/48]
            """)
        #expect(configuration.tenant(for: try SocketAddress(ipAddress: "192.0.2.10", port: 5060)) == "bank")
        #expect(configuration.tenant(for: try SocketAddress(ipAddress: "192.0.2.200", port: 5060)) == "support")
        #expect(configuration.tenant(for: try SocketAddress(ipAddress: "2001:db8:1::5", port: 5060)) == "support")
        #expect(configuration.tenant(for: try SocketAddress(ipAddress: "198.51.100.1", port: 5060)) == nil)
    }

    @Test("a TLS listener without certificate settings fails validation")
    func tlsNeedsCertificate() throws {
        var configuration = ServerConfiguration()
        try configuration.setSIPListen(["tls:0.0.0.0:5061"])
        #expect(throws: ServerConfiguration.Error.self) { try configuration.validate() }
    }
}

@Suite("RTP port pool")
struct RTPPortPoolTests {
    @Test("hands out even ports, never twice, and reuses released ones last")
    func allocation() {
        var pool = RTPPortPool(range: 20001...20010)
        var ports: [Int] = []
        while let port = pool.allocate() { ports.append(port) }
        #expect(ports == [20002, 20004, 20006, 20008])
        #expect(pool.allocate() == nil)
        pool.release(20004)
        pool.release(20004)
        #expect(pool.available == 1)
        #expect(pool.allocate() == 20004)
        pool.release(12345)
        #expect(pool.allocated == 4)
    }
}

@Suite("Configuration reload plan")
struct ConfigurationReloadPlanTests {
    static func loaded(_ yaml: String) throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        try configuration.apply(yaml: yaml)
        return configuration
    }

    @Test("an unchanged file changes nothing")
    func unchanged() throws {
        let running = try Self.loaded("sip:\n  trusted-networks: [192.0.2.0/24]\n")
        let plan = ConfigurationReloadPlan(running: running, loaded: running)
        #expect(plan.applied.isEmpty && plan.restartRequired.isEmpty)
    }

    @Test("live keys take their new values; restart-only keys are listed and keep the running values")
    func liveAndRestartKeys() throws {
        let running = try Self.loaded("sip:\n  trusted-networks: [192.0.2.0/24]\n  max-concurrent-calls: 100\nmedia:\n  rtp-ports: 20000-20999\n")
        let loaded = try Self.loaded("""
            sip:
              trusted-networks: [192.0.2.0/24, 198.51.100.0/24]
              max-concurrent-calls: 50
              listen: [udp:127.0.0.1:5070]
              drain-timeout-s: 60
            media:
              rtp-ports: 30000-30999
              srtp: require
            sessions:
              tenants:
                - {name: bank, sources: [198.51.100.0/24]}
            recording:
              layout: mono
            log:
              level: debug

            """)
        let plan = ConfigurationReloadPlan(running: running, loaded: loaded)
        #expect(Set(plan.applied) == ["sip.trusted-networks", "sip.max-concurrent-calls", "sip.drain-timeout-s", "media.srtp",
                                      "sessions.tenants", "log.level"])
        #expect(Set(plan.restartRequired) == ["sip.listen", "media.rtp-ports", "recording"])
        let effective = plan.effective
        #expect(effective.maxConcurrentCalls == 50)
        #expect(effective.trustedNetworks.contains(try SocketAddress(ipAddress: "198.51.100.7", port: 5060)))
        #expect(effective.srtpPolicy == .require)
        #expect(effective.drainTimeout == .seconds(60))
        #expect(effective.logLevel == .debug)
        #expect(effective.tenant(for: try SocketAddress(ipAddress: "198.51.100.7", port: 5060)) == "bank")
        // Restart-only: the running values stay.
        #expect(effective.rtpPorts == 20000...20999)
        #expect(effective.sipListen == running.sipListen)
        #expect(effective.recording.layout == .stereo)
    }
}

/// Counts what reaches it (the handler a reloadable level wraps).
private final class CountingLogHandler: LogHandler, @unchecked Sendable {
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    private(set) var messages: [String] = []
    func log(event: LogEvent) { messages.append(event.message.description) }
}

@Suite("Log level changed by a reload")
struct RuntimeLogLevelTests {
    @Test("every logger follows the process-wide level as it changes; a logger cannot set its own")
    func followsTheRuntimeLevel() {
        let level = RuntimeLogLevel(.info)
        let inner = CountingLogHandler()
        var logger = Logger(label: "test") { _ in ReloadableLevelLogHandler(inner, level: level) }
        logger.debug("hidden")
        logger.info("shown")
        level.current = .debug
        logger.debug("shown too")
        logger.logLevel = .critical
        logger.info("still shown")
        level.current = .error
        logger.warning("hidden again")
        #expect(inner.messages == ["shown", "shown too", "still shown"])
        #expect(logger.logLevel == .error)
    }
}

@Suite("Audio conversions for ?format=")
struct FileTranscoderTests {
    /// A plain 16-bit mono WAV of `seconds` of a ramp.
    static func wav(at path: String, seconds: Int) throws {
        let samples = (0..<(8000 * seconds)).map { Int16(truncatingIfNeeded: $0 * 7) }
        var bytes: [UInt8] = []
        func u32(_ v: Int) { bytes += withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        func u16(_ v: Int) { bytes += withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
        bytes += Array("RIFF".utf8); u32(36 + samples.count * 2); bytes += Array("WAVEfmt ".utf8)
        u32(16); u16(1); u16(1); u32(8000); u32(16000); u16(2); u16(16)
        bytes += Array("data".utf8); u32(samples.count * 2)
        for sample in samples { bytes += withUnsafeBytes(of: sample.littleEndian, Array.init) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test("a conversion is made once and served again from the cache; a changed source is converted anew; the cache keeps to its size")
    func cached() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("transcoder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let source = root.appendingPathComponent("call.wav")
        try Self.wav(at: source.path, seconds: 2)
        let transcoder = FileTranscoder(folder: root.appendingPathComponent("cache"), maxBytes: 1 << 30)

        // Two requests at once share one conversion; a later one finds it.
        async let first = transcoder.transcode(source, to: "flac")
        async let second = transcoder.transcode(source, to: "flac")
        let (a, b) = try await (first, second)
        #expect(a == b)
        let flac = try Data(contentsOf: a)
        #expect(flac.prefix(4) == Data("fLaC".utf8))
        let made = try FileManager.default.attributesOfItem(atPath: a.path)[.systemFileNumber] as? NSNumber
        #expect(made != nil)
        let again = try await transcoder.transcode(source, to: "flac")
        #expect(again == a)
        #expect(try FileManager.default.attributesOfItem(atPath: a.path)[.systemFileNumber] as? NSNumber == made, "not converted again")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("cache").path).count == 1)

        // Another format, and a source that changed: each its own file.
        let mp3 = try await transcoder.transcode(source, to: "mp3")
        #expect(mp3 != a)
        try Self.wav(at: source.path, seconds: 3)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: source.path)
        let changed = try await transcoder.transcode(source, to: "flac")
        #expect(changed != a)

        // A cache of 1 byte keeps only what is being served.
        let small = FileTranscoder(folder: root.appendingPathComponent("cache"), maxBytes: 1)
        let kept = try await small.transcode(source, to: "wav-ulaw")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("cache").path) == [kept.lastPathComponent])
    }
}
