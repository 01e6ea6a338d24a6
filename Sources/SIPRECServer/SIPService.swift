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
                onListening: (@Sendable ([SIPListenAddress]) -> Void)? = nil) throws {
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
        controller = try RecordingSessionController(configuration: configuration, logger: logger, eventLoop: eventLoop)
        core.application = controller
        controller.core = core
    }

    public func run() async throws {
        let settings = SIPListeners.Settings(limits: configuration.limits, tls: configuration.tls,
                                             incompleteMessageTimeout: configuration.incompleteMessageTimeout)
        // Before any call: what a crash left in the spool is repaired and archived.
        controller.startMedia()
        let channels: [Channel]
        do {
            channels = try await SIPListeners.bind(configuration.sipListen, core: core, settings: settings)
        } catch {
            // Nothing was recorded; stop the media and record threads so the process can exit.
            controller.stopMedia()
            try? await core.eventLoop.submit { [controller] in controller.closeMediaSockets() }.get()
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
        // The ended recordings' audio is drained and their files finished; the records that
        // say so are queued on the event loop, then written.
        controller.stopMedia()
        try? await core.eventLoop.submit { [controller] in controller.closeMediaSockets() }.get()
        await controller.flushRecords()
    }
}
