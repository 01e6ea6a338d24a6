import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SIPStack

/// Builds the whole server from its configuration; `main` runs what this returns, and tests
/// build the same thing with port 0 (STYLE 7).
public struct Application: Sendable {
    public let serviceGroup: ServiceGroup
    public let sip: SIPService

    public init(configuration: ServerConfiguration, logger: Logger,
                onListening: (@Sendable ([SIPListenAddress]) -> Void)? = nil) throws {
        try configuration.validate()
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        sip = try SIPService(configuration: configuration, logger: logger, eventLoop: loop, onListening: onListening)
        serviceGroup = ServiceGroup(configuration: .init(
            services: [.init(service: sip)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
    }
}
