import Foundation
import SIPLocator

/// The `--target` values in order: HOST:PORT endpoints as they are, and sip: URIs located
/// through DNS (RFC 3263: NAPTR, SRV, A) for the chosen transport. The result is the failover
/// order, each address once.
enum TargetList {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    enum Entry: Sendable {
        case endpoint(Endpoint)
        case uri(SIPDestination, text: String)
    }

    /// Every `--target` value, each possibly a comma-separated list.
    static func parse(_ arguments: [String]) throws(Failure) -> [Entry] {
        var entries: [Entry] = []
        for argument in arguments {
            for piece in argument.split(separator: ",") {
                let text = piece.trimmingCharacters(in: .whitespaces)
                guard !text.isEmpty else { continue }
                let lower = text.lowercased()
                if lower.hasPrefix("sips:") {
                    throw Failure(description: "--target \(text): sips: needs TLS, which siprec-loadgen does not speak")
                } else if lower.hasPrefix("sip:") {
                    guard let destination = SIPDestination(uri: text) else {
                        throw Failure(description: "--target \(text) is not a SIP URI")
                    }
                    entries.append(.uri(destination, text: text))
                } else {
                    guard let endpoint = Endpoint(parsing: text) else {
                        throw Failure(description: "--target \(text) must be HOST:PORT or sip:DOMAIN")
                    }
                    entries.append(.endpoint(endpoint))
                }
            }
        }
        guard !entries.isEmpty else { throw Failure(description: "--target is required") }
        return entries
    }

    /// The entries' addresses in order; sip: URIs through `nameServer` (or the system's).
    static func resolve(_ entries: [Entry], transport: LocalAgent.Transport, nameServer: DNSNameServer?,
                        log: Bool) throws(Failure) -> [Endpoint] {
        let resolver = CachingDNSResolver(upstream: SystemDNSResolver(configuration: DNSResolverConfiguration(nameServer: nameServer)))
        let locator = SIPTargetLocator(resolver: resolver, configuration: .init(addressFamilies: [.ipv4]))
        let preferred: SIPTarget.Transport = transport == .udp ? .udp : .tcp
        var endpoints: [Endpoint] = []
        for entry in entries {
            switch entry {
            case .endpoint(let endpoint):
                endpoints.append(endpoint)
            case .uri(let destination, let text):
                let located: [SIPTarget]
                switch waitFor({ () async throws(DNSError) -> [SIPTarget] in
                    try await locator.locate(destination, preferredTransport: preferred)
                }) {
                case .success(let targets): located = targets
                case .failure(let error): throw Failure(description: "--target \(text): \(error)")
                }
                guard !located.isEmpty else {
                    throw Failure(description: "--target \(text): DNS gives no \(transport.rawValue.uppercased()) target")
                }
                if log {
                    Log.info("\(text) → " + located.map { "\($0.address):\($0.port)" + ($0.hostName.map { " (\($0))" } ?? "") }
                        .joined(separator: ", "))
                }
                endpoints += located.compactMap { target in UInt16(exactly: target.port).map { Endpoint(ip: target.address, port: $0) } }
            }
        }
        var seen: Set<Endpoint> = []
        return endpoints.filter { seen.insert($0).inserted }
    }

    /// Runs async work from this synchronous command (the main thread, not a concurrency
    /// executor thread, so waiting here starves nothing).
    private static func waitFor<Value: Sendable>(_ work: @escaping @Sendable () async throws(DNSError) -> Value) -> Result<Value, DNSError> {
        let box = ResultBox<Value>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do throws(DNSError) {
                box.set(.success(try await work()))
            } catch {
                box.set(.failure(error))
            }
            done.signal()
        }
        done.wait()
        return box.get() ?? .failure(DNSError(.resolverUnavailable))
    }
}

private final class ResultBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Value, DNSError>?

    func set(_ value: Result<Value, DNSError>) { lock.withLock { result = value } }
    func get() -> Result<Value, DNSError>? { lock.withLock { result } }
}
