import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SIPCore
import SIPStack

/// Runs the SIP listeners until graceful shutdown. Everything SIP happens on one event loop.
public final class SIPService: Service, @unchecked Sendable {
    public let core: SIPServerCore
    public let controller: RecordingSessionController
    private let configuration: ServerConfiguration
    private let logger: Logger
    private let onListening: (@Sendable ([SIPListenAddress]) -> Void)?

    public init(configuration: ServerConfiguration, logger: Logger, eventLoop: EventLoop,
                onListening: (@Sendable ([SIPListenAddress]) -> Void)? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.onListening = onListening
        let endpointConfiguration = SIPEndpointConfiguration(
            timers: configuration.timers,
            trustedNetworks: configuration.trustedNetworks,
            advertisedHost: configuration.advertisedHost,
            maxTransactions: configuration.maxTransactions,
            minSessionExpires: configuration.minSessionExpires
        )
        core = SIPServerCore(eventLoop: eventLoop, configuration: endpointConfiguration, logger: logger,
                             maxConnections: configuration.maxConnections)
        controller = RecordingSessionController(configuration: configuration, logger: logger)
        core.application = controller
    }

    public func run() async throws {
        let settings = SIPListeners.Settings(limits: configuration.limits, tls: configuration.tls,
                                             incompleteMessageTimeout: configuration.incompleteMessageTimeout)
        let channels: [Channel]
        do {
            channels = try await SIPListeners.bind(configuration.sipListen, core: core, settings: settings)
        } catch {
            // Nothing was recorded; stop the record writer's thread so the process can exit.
            await controller.flushRecords()
            throw error
        }
        var bound: [SIPListenAddress] = []
        for (address, channel) in zip(configuration.sipListen, channels) {
            let actual = SIPListenAddress(transport: address.transport, host: address.host,
                                          port: channel.localAddress?.port ?? address.port)
            bound.append(actual)
            logger.info("listening", metadata: ["sip": "\(actual)"])
        }
        onListening?(bound)
        try? await gracefulShutdown()
        logger.info("SIP listeners closing")
        for channel in channels { try? await channel.close() }
        try? await core.eventLoop.submit { [core, controller] in
            controller.shutdown(core: core)
            core.closeAllConnections()
            core.cancelAllTimers()
        }.get()
        await controller.flushRecords()
    }
}
