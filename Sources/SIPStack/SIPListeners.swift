import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SIPCore

/// `udp:HOST:PORT`, `tcp:HOST:PORT` or `tls:HOST:PORT` (IPv6 hosts in brackets).
public struct SIPListenAddress: Hashable, Sendable, CustomStringConvertible {
    public var transport: SIPTransportKind
    public var host: String
    public var port: Int

    public init(transport: SIPTransportKind, host: String, port: Int) {
        self.transport = transport
        self.host = host
        self.port = port
    }

    public init?(parsing text: String) {
        guard let colon = text.firstIndex(of: ":"),
              let transport = SIPTransportKind(rawValue: text[..<colon].uppercased()) else { return nil }
        let rest = text[text.index(after: colon)...]
        guard let (host, port) = try? SIPURI.splitHostPort(Substring(rest)), let port else { return nil }
        self.transport = transport
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = port
    }

    public var description: String {
        let hostText = host.contains(":") ? "[\(host)]" : host
        return "\(transport.rawValue.lowercased()):\(hostText):\(port)"
    }
}

/// TLS listener settings; files are PEM.
public struct SIPTLSConfiguration: Hashable, Sendable {
    public var certificateChainFile: String
    public var privateKeyFile: String
    /// CA bundle for verifying client certificates.
    public var trustRootsFile: String?
    public var requireClientCertificate: Bool
    public var handshakeTimeout: Duration
    /// Passphrase of an encrypted private key (from the environment, never the file).
    public var privateKeyPassphrase: String?

    public init(certificateChainFile: String, privateKeyFile: String, trustRootsFile: String? = nil,
                requireClientCertificate: Bool = false, handshakeTimeout: Duration = .seconds(10)) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.trustRootsFile = trustRootsFile
        self.requireClientCertificate = requireClientCertificate
        self.handshakeTimeout = handshakeTimeout
    }

    /// Builds the (expensive) context once, off any event loop.
    public func makeContext() throws -> NIOSSLContext {
        try NIOSSLContext(configuration: makeTLSConfiguration())
    }

    /// The server TLS settings these files and options describe (TLS 1.2 or later).
    public func makeTLSConfiguration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateChainFile).map { NIOSSLCertificateSource.certificate($0) }
        let key: NIOSSLPrivateKey
        if let passphrase = privateKeyPassphrase {
            key = try NIOSSLPrivateKey(file: privateKeyFile, format: .pem) { setter in setter(Array(passphrase.utf8)) }
        } else {
            key = try NIOSSLPrivateKey(file: privateKeyFile, format: .pem)
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        if let trustRootsFile { tls.trustRoots = .file(trustRootsFile) }
        tls.certificateVerification = requireClientCertificate ? .noHostnameVerification : .none
        tls.minimumTLSVersion = .tlsv12
        return tls
    }
}

/// Opens the SIP listeners on the core's event loop.
public enum SIPListeners {
    static let maxDatagramSize = 65_536
    static let vectorReadMessages = 8

    public struct Settings: Sendable {
        public var limits: SIPParserLimits
        public var tls: SIPTLSConfiguration?
        /// How long a TCP/TLS peer may take to finish a message it has started.
        public var incompleteMessageTimeout: Duration
        public var udpReceiveBufferSize: Int

        public init(limits: SIPParserLimits = SIPParserLimits(), tls: SIPTLSConfiguration? = nil,
                    incompleteMessageTimeout: Duration = .seconds(10), udpReceiveBufferSize: Int = 4 << 20) {
            self.limits = limits
            self.tls = tls
            self.incompleteMessageTimeout = incompleteMessageTimeout
            self.udpReceiveBufferSize = udpReceiveBufferSize
        }
    }

    /// Binds every address; returns the channels (their `localAddress` tells the real port when
    /// port 0 was asked for).
    public static func bind(_ addresses: [SIPListenAddress], core: SIPServerCore, settings: Settings) async throws -> [Channel] {
        let parser = SIPMessageParser(limits: settings.limits)
        let tlsContext = try addresses.contains(where: { $0.transport == .tls }) ? settings.tls.map { try $0.makeContext() } : nil
        var channels: [Channel] = []
        do {
            for address in addresses {
                switch address.transport {
                case .udp:
                    let channel = try await DatagramBootstrap(group: core.eventLoop)
                        .channelOption(.socketOption(.so_reuseaddr), value: 1)
                        .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(settings.udpReceiveBufferSize))
                        // NIO splits the receive buffer evenly between the messages of one
                        // vector read: every slice must hold the largest datagram (65,507 bytes),
                        // or large INVITEs arrive cut short.
                        .channelOption(.datagramVectorReadMessageCount, value: SIPListeners.vectorReadMessages)
                        .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(
                            capacity: SIPListeners.vectorReadMessages * SIPListeners.maxDatagramSize))
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(SIPDatagramHandler(core: core, parser: parser))
                            }
                        }
                        .bind(host: address.host, port: address.port).get()
                    channels.append(channel)
                case .tcp, .tls:
                    if address.transport == .tls && tlsContext == nil {
                        throw SIPListenerError.tlsNotConfigured(address.description)
                    }
                    let transport = address.transport
                    let timeout = TimeAmount.nanoseconds(settings.incompleteMessageTimeout.nanoseconds)
                    let handshakeTimeout = TimeAmount.nanoseconds((settings.tls?.handshakeTimeout ?? .seconds(10)).nanoseconds)
                    let channel = try await ServerBootstrap(group: core.eventLoop)
                        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                        .serverChannelOption(.backlog, value: 256)
                        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                        .childChannelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                let sync = channel.pipeline.syncOperations
                                if transport == .tls, let tlsContext {
                                    // After the TLS handler: NIOSSL reports handshakeCompleted to the handlers behind it.
                                    try sync.addHandler(NIOSSLServerHandler(context: tlsContext))
                                    try sync.addHandler(TLSHandshakeTimeoutHandler(timeout: handshakeTimeout) { [core] in
                                        core.eventLoop.execute { core.connectionClosedOnError() }
                                    })
                                }
                                try sync.addHandler(SIPStreamHandler(core: core, parser: parser, transport: transport,
                                                                     incompleteMessageTimeout: timeout))
                            }
                        }
                        .bind(host: address.host, port: address.port).get()
                    channels.append(channel)
                }
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return channels
    }
}

public enum SIPListenerError: Error, CustomStringConvertible {
    case tlsNotConfigured(String)

    public var description: String {
        switch self {
        case .tlsNotConfigured(let address): "listener \(address) needs tls.certificate and tls.private-key in the configuration"
        }
    }
}
