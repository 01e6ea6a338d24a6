import CResolv
import Foundation

/// glibc's stub resolver (`res_nquery` with a private `res_state` per query) run on worker
/// threads of its own, so a query blocks one of those, never the caller's executor. A query
/// takes at most `timeoutSeconds * attempts`.
public final class SystemDNSResolver: DNSResolver {
    public let configuration: DNSResolverConfiguration
    private let workers: DNSWorkerPool

    public init(configuration: DNSResolverConfiguration = DNSResolverConfiguration()) {
        self.configuration = configuration
        workers = DNSWorkerPool(maxThreads: configuration.workerThreads)
    }

    deinit {
        workers.close()
    }

    public func query(name: String, type: DNSRecordType) async throws(DNSError) -> DNSAnswer {
        let configuration = configuration
        let result: Result<DNSAnswer, DNSError> = await withCheckedContinuation { continuation in
            workers.submit {
                continuation.resume(returning: Self.blockingQuery(name: name, type: type, configuration: configuration))
            }
        }
        return try result.get()
    }

    /// One query on the calling thread.
    static func blockingQuery(name: String, type: DNSRecordType, configuration: DNSResolverConfiguration) -> Result<DNSAnswer, DNSError> {
        guard !name.isEmpty, name.utf8.count <= 254 else { return .failure(DNSError(.noRecovery, detail: "invalid name")) }
        var buffer = [UInt8](repeating: 0, count: configuration.maxAnswerBytes)
        var options = cresolv_options(server_ipv4: nil, server_port: Int32(configuration.nameServer?.port ?? 0),
                                      timeout_seconds: Int32(configuration.timeoutSeconds),
                                      attempts: Int32(configuration.attempts))
        let result: cresolv_result = buffer.withUnsafeMutableBufferPointer { answer in
            func run() -> cresolv_result {
                cresolv_query(name, Int32(type.rawValue), &options, answer.baseAddress, Int32(answer.count))
            }
            guard let server = configuration.nameServer else { return run() }
            return server.address.withCString { address in
                options.server_ipv4 = address
                return run()
            }
        }
        let detail = "h_errno \(result.h_error), errno \(result.os_error)"
        switch result.status {
        case CRESOLV_OK, CRESOLV_NXDOMAIN, CRESOLV_NO_DATA:
            guard result.length > 0 else {
                return .success(result.status == CRESOLV_NXDOMAIN ? .nameNotFound : .noData)
            }
            let message: DNSMessage
            do {
                message = try DNSMessage(parsing: Array(buffer[0..<Int(result.length)]))
            } catch {
                return .failure(DNSError(.malformedAnswer, detail: error.description))
            }
            var answer = DNSAnswer(message: message, type: type)
            if result.status != CRESOLV_OK && answer.outcome == .records {
                // The resolver saw no record of the type: trust it over a stray record.
                answer = DNSAnswer(outcome: result.status == CRESOLV_NXDOMAIN ? .nameNotFound : .noData,
                                   negativeTTL: message.negativeTTL)
            }
            return .success(answer)
        case CRESOLV_TIMEOUT:
            return .failure(DNSError(.timeout, detail: detail))
        case CRESOLV_TRY_AGAIN:
            return .failure(DNSError(.serverFailure, detail: detail))
        case CRESOLV_NO_RECOVERY:
            return .failure(DNSError(.noRecovery, detail: detail))
        default:
            return .failure(DNSError(.resolverUnavailable, detail: detail))
        }
    }
}
