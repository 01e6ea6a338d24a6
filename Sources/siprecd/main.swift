import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import SIPRECServer

@main
struct Siprecd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "siprecd",
        abstract: "SIPREC session recording server.",
        discussion: "Flags override the configuration file; the file overrides the built-in defaults (see config/siprecd.yaml)."
    )

    @Option(name: .long, help: "YAML configuration file.")
    var config: String?

    @Option(name: .customLong("sip-listen"), help: "SIP listener, udp|tcp|tls:HOST:PORT (repeatable; default udp and tcp on 0.0.0.0:5060).")
    var sipListen: [String] = []

    @Option(name: .customLong("http-listen"), help: "Admin HTTP listener HOST:PORT (default 127.0.0.1:8080).")
    var httpListen: String?

    @Option(name: .customLong("data-dir"), help: "Folder for spool, archive and catalog (default ./var).")
    var dataDir: String?

    @Option(name: .long, help: "Catalog: sqlite:PATH (default sqlite:<data-dir>/catalog.sqlite) or postgres://USER@HOST:PORT/DB.")
    var database: String?

    @Option(name: .customLong("rtp-ports"), help: "Media port range LOW-HIGH (default 20000-39999).")
    var rtpPorts: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?

    func run() async throws {
        let sources = ConfigurationSources(file: config, sipListen: sipListen, httpListen: httpListen, dataDir: dataDir,
                                           database: database, rtpPorts: rtpPorts, logLevel: logLevel)
        let configuration: ServerConfiguration
        do {
            configuration = try sources.load()
        } catch {
            throw ValidationError("\(error)")
        }
        let level = RuntimeLogLevel(configuration.logLevel)
        LoggingSystem.bootstrap { label in
            ReloadableLevelLogHandler(StreamLogHandler.standardError(label: label), level: level)
        }
        let logger = Logger(label: "siprecd")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var reloadSource: (@Sendable () throws -> ServerConfiguration)?
        if config != nil {
            reloadSource = { try sources.load() }
        }
        let application = try Application(configuration: configuration, logger: logger, metricsRegistry: registry,
                                          reloadSource: reloadSource, logLevel: level)
        try await application.run()
    }
}

/// Where the configuration comes from: the file and the command line.
struct ConfigurationSources: Sendable {
    var file: String?
    var sipListen: [String]
    var httpListen: String?
    var dataDir: String?
    var database: String?
    var rtpPorts: String?
    var logLevel: String?

    /// Defaults, then the file, then the flags and the environment. Run again, as it is, by a
    /// reload (SIGHUP or the admin API), so flags still win.
    func load() throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        if let file {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            try configuration.apply(yaml: text)
        }
        if !sipListen.isEmpty { try configuration.setSIPListen(sipListen) }
        if let httpListen { configuration.httpListen = httpListen }
        if let dataDir { configuration.dataDirectory = dataDir }
        if let database { configuration.database = database }
        configuration.configurationFile = file
        if let rtpPorts { try configuration.setRTPPorts(rtpPorts) }
        if let logLevel { try configuration.setLogLevel(logLevel) }
        configuration.apply(environment: ProcessInfo.processInfo.environment)
        try configuration.validate()
        return configuration
    }
}
