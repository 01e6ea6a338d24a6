import Cluster
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SIPCore
import SIPStack

/// Runs the SIP listeners until graceful shutdown, then drains: new calls and OPTIONS get 503
/// while calls in progress go on recording, until they end, the drain timeout passes or a
/// second SIGTERM arrives (`endCallsNow`). Everything SIP happens on one event loop.
public final class SIPService: Service, @unchecked Sendable {
    public let core: SIPServerCore
    public let controller: RecordingSessionController
    private let configuration: ServerConfiguration
    private let logger: Logger
    private let onListening: (@Sendable ([SIPListenAddress]) -> Void)?
    // Event loop only.
    private var drainState = DrainState()
    private var drainFinished: EventLoopPromise<Void>?
    private var drainTimer: Scheduled<Void>?
    /// `sip.drain-timeout-s`, which a reload may change (event loop).
    private var drainTimeout: Duration
    /// The configuration in effect, reloads included (event loop).
    private var running: ServerConfiguration

    public init(configuration: ServerConfiguration, logger: Logger, eventLoop: EventLoop,
                onListening: (@Sendable ([SIPListenAddress]) -> Void)? = nil) throws {
        self.configuration = configuration
        self.drainTimeout = configuration.drainTimeout
        self.running = configuration
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

    /// Compares a freshly loaded configuration with the one in effect and applies its live
    /// settings from the next request on; calls in progress are not touched. Reloads are
    /// serialised on the SIP loop, so two at once cannot apply out of order.
    public func reload(to loaded: ServerConfiguration, logLevel: RuntimeLogLevel? = nil) async throws -> ConfigurationReloadPlan {
        try await core.eventLoop.submit { [self] in
            let plan = ConfigurationReloadPlan(running: running, loaded: loaded)
            let configuration = plan.effective
            running = configuration
            drainTimeout = configuration.drainTimeout
            controller.applyReloaded(configuration)
            core.reconfigure {
                $0.trustedNetworks = configuration.trustedNetworks
                $0.advertisedHost = configuration.advertisedHost
                $0.minSessionExpires = configuration.minSessionExpires
            }
            logLevel?.current = configuration.logLevel
            return plan
        }.get()
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
        await drain()
        logger.info("SIP listeners closing")
        for channel in channels { try? await channel.close() }
        try? await core.eventLoop.submit { [core, controller] in
            // Nothing is left after a drain; this ends what a failed drain step left behind.
            controller.endAllCalls(core: core, reason: "server shutdown")
            core.closeAllConnections()
            core.cancelAllTimers()
        }.get()
        // The ended recordings' audio is drained and their files finished; the records that
        // say so are queued on the event loop, then written.
        controller.stopMedia()
        try? await core.eventLoop.submit { [controller] in controller.closeMediaSockets() }.get()
        await controller.flushRecords()
        logger.notice("SIP service stopped")
    }

    /// A second termination signal: the calls still recording are ended now (BYE, files
    /// finished) instead of at the drain timeout.
    public func endCallsNow() {
        core.eventLoop.execute { [self] in terminationSignal() }
    }

    /// Waits until the drain is over; the listeners stay open meanwhile, for the 503s and for
    /// the in-dialog requests (re-INVITE, UPDATE, BYE) of the calls that go on.
    private func drain() async {
        let promise = core.eventLoop.makePromise(of: Void.self)
        core.eventLoop.execute { [self] in
            drainFinished = promise
            controller.onCallCountChanged = { [weak self] count in
                guard let self else { return }
                perform(drainState.callsChanged(activeCalls: count))
            }
            if drainState.isDraining {
                // A second signal came before the graceful shutdown reached this service.
                if drainState.phase == .finished { perform(.finish) }
            } else {
                terminationSignal()
            }
        }
        try? await promise.futureResult.get()
    }

    private func terminationSignal() {
        let seconds = Double(drainTimeout.components.seconds)
        for action in drainState.signal(now: Self.now(), timeout: seconds, activeCalls: controller.snapshot.activeCalls) {
            perform(action)
        }
    }

    private static func now() -> Double {
        Double(NIODeadline.now().uptimeNanoseconds) / 1e9
    }

    private func perform(_ action: DrainState.Action) {
        switch action {
        case .none:
            break
        case .startRefusing:
            controller.beginDrain()
            let calls = controller.snapshot.activeCalls
            logger.notice("draining: new calls get 503, calls in progress go on", metadata: [
                "calls": "\(calls)", "timeoutSeconds": "\(drainTimeout.components.seconds)",
            ])
            if calls > 0 {
                drainTimer = core.eventLoop.scheduleTask(in: .nanoseconds(drainTimeout.nanosecondsValue)) { [self] in
                    perform(drainState.tick(now: Self.now() + 0.001))
                }
            }
        case .endCalls(let reason):
            drainTimer?.cancel()
            logger.notice("ending the calls still recording", metadata: ["calls": "\(controller.snapshot.activeCalls)", "why": "\(reason.rawValue)"])
            controller.endAllCalls(core: core, reason: reason.rawValue) { [self] in
                perform(drainState.callsEnded())
            }
            // A BYE that is never answered ends its transaction after 64*T1; do not wait longer.
            core.eventLoop.scheduleTask(in: .nanoseconds(configuration.timers.t1.nanosecondsValue * 64)) { [self] in
                perform(drainState.callsEnded())
            }
        case .finish:
            drainTimer?.cancel()
            controller.onCallCountChanged = nil
            logger.notice("drain finished")
            drainFinished?.succeed()
            drainFinished = nil
        }
    }
}
