import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
import Webhooks

/// A webhook receiver on loopback: answers 200 to every POST and keeps what came.
final class WebhookReceiver: @unchecked Sendable {
    struct Delivery: Sendable {
        var headers: [String: String]
        var body: Data
    }

    let received = NIOLockedValueBox<[Delivery]>([])
    private var channel: Channel?
    var port: Int { channel?.localAddress?.port ?? 0 }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let receiver: WebhookReceiver
        var headers: [String: String] = [:]
        var body = Data()
        init(_ receiver: WebhookReceiver) { self.receiver = receiver }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                headers = Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
                body = Data()
            case .body(var buffer):
                body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
            case .end:
                let delivery = Delivery(headers: headers, body: body)
                receiver.received.withLockedValue { $0.append(delivery) }
                var head = HTTPResponseHead(version: .http1_1, status: .ok)
                head.headers.add(name: "Content-Length", value: "0")
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }

    init() throws {
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(Handler(self)) }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    func close() { try? channel?.close().wait() }
}

@Suite("Webhooks from the running server")
struct WebhookIntegrationTests {
    @Test("each recorded call gives call.started, call.ended and recording.available, signed, to the configured endpoint")
    func webhooksForCalls() async throws {
        guard FileManager.default.isExecutableFile(atPath: MediaIntegrationTests.loadgen) else {
            Issue.record("siprec-loadgen is not built at \(MediaIntegrationTests.loadgen): run `make test`")
            return
        }
        let receiver = try WebhookReceiver()
        defer { receiver.close() }
        let yaml = MediaIntegrationTests.yaml + """
        webhooks:
          endpoints:
            - url: http://127.0.0.1:\(receiver.port)/hooks
              secret-env: TEST_WEBHOOK_KEY
        """
        let server = try ServerProcess(yaml: yaml, environment: ["TEST_WEBHOOK_KEY": "hook-key"])
        defer { server.stop() }
        let report = try CatalogIntegrationTests.runLoadgen(server, calls: 2, rate: 2, duration: 2) {}
        #expect(report["recordingsVerified"] as? Int == 2, "\(report)")
        // Events follow the journal (flushed each second); wait, bounded, for all six.
        let deadline = Date().addingTimeInterval(20)
        while receiver.received.withLockedValue({ $0.count }) < 6, Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let deliveries = receiver.received.withLockedValue { $0 }
        #expect(deliveries.count == 6, "\(server.log.suffix(2000))")
        var byRecording: [String: Set<String>] = [:]
        for delivery in deliveries {
            let body = try #require(try JSONSerialization.jsonObject(with: delivery.body) as? [String: Any])
            let recording = try #require(body["recording"] as? [String: Any])
            byRecording[recording["id"] as? String ?? "", default: []].insert(body["event"] as? String ?? "")
            let timestamp = try #require(delivery.headers["x-siprecd-timestamp"])
            #expect(delivery.headers["x-siprecd-signature"]
                    == "sha256=" + HMACSHA256.hex(key: Array("hook-key".utf8), message: Array("\(timestamp).".utf8) + [UInt8](delivery.body)))
        }
        #expect(byRecording.count == 2)
        #expect(byRecording.values.allSatisfy { $0 == ["call.started", "call.ended", "recording.available"] })
    }
}
