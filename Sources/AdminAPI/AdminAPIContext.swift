import Hummingbird
import NIOCore

/// The request context of the admin API: Hummingbird's storage plus the peer's address (for
/// the audit log).
public struct AdminAPIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Request bodies are small JSON documents.
    public var maxUploadSize: Int { 64 * 1024 }
}
