import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Media
import Testing

@Suite("Media engine: ended streams' sockets are parked for later calls")
struct SocketParkTests {
    static func end(_ engine: MediaEngine, _ id: String) async -> [MediaEngine.StreamReport] {
        await withCheckedContinuation { continuation in
            engine.end(recordingID: id) { reports, _ in continuation.resume(returning: reports) }
        }
    }

    /// A stream on `fd` (bound to `port`) with `rtcp`, in a new recording `id`.
    static func attach(_ engine: MediaEngine, _ id: String, fd: Int32, rtcp: MediaEngine.RTCPSocket?, port: Int) {
        engine.begin(recordingID: id, channels: 1, startNanos: MediaEngine.monotonicNanos())
        engine.attach(fd: fd, rtcp: rtcp, binding: .init(host: "127.0.0.1", port: port), recordingID: id, streamKey: "1", channel: 0, payloads: RTP.pcmu)
    }

    @Test("the end parks the RTP and RTCP sockets; a new call gets them only once rested, and not what the old call left on them")
    func parkedAndReused() async throws {
        var settings = MediaEngine.Settings()
        settings.parkedSocketRest = .seconds(3600)
        let engine = try MediaEngine(settings: settings, sink: CollectingSink())
        engine.start()
        defer { engine.stop() }
        let fd = try engine.bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(MediaEngine.localPort(of: fd))
        let rtcp = try engine.bind(host: "127.0.0.1", port: 0).get()
        let rtcpPort = try #require(MediaEngine.localPort(of: rtcp))
        Self.attach(engine, "first", fd: fd, rtcp: .bound(rtcp), port: port)
        MediaEngineTests.send([RTP.packet(seq: 1, ts: 0, payload: RTP.ulaw(0))], to: port)
        #expect(await Self.end(engine, "first").first?.statistics.packets == 1)
        #expect(engine.parkedSocketCount == 1)
        // Still bound: the port is not free for anyone else.
        #expect(throws: POSIXError.self) { try engine.bind(host: "127.0.0.1", port: port).get() }

        // Late packets of the first call reach the parked sockets.
        MediaEngineTests.send((2..<5).map { RTP.packet(seq: UInt16($0), ts: UInt32($0 * 160), payload: RTP.ulaw(0)) }, to: port)
        MediaEngineTests.send([RTCPTests.senderReport(packets: 7)], to: rtcpPort)

        #expect(engine.takeParkedSocket(host: "127.0.0.1") == nil, "resting")
        #expect(engine.takeParkedSocket(host: "::", evenIfResting: true) == nil, "another address")
        let parked = try #require(engine.takeParkedSocket(host: "127.0.0.1", evenIfResting: true))
        #expect(parked.fd == fd)
        #expect(parked.rtcpFD == rtcp)
        #expect(parked.binding == .init(host: "127.0.0.1", port: port))
        #expect(engine.parkedSocketCount == 0)

        Self.attach(engine, "second", fd: parked.fd, rtcp: parked.rtcpFD.map { .bound($0) }, port: port)
        MediaEngineTests.send([RTP.packet(seq: 100, ts: 16000, ssrc: 9, payload: RTP.ulaw(0))], to: port)
        let second = await Self.end(engine, "second")
        #expect(second.first?.statistics.packets == 1)
        #expect(second.first?.statistics.rtcp == 0)
        #expect(engine.takeFreedPorts().isEmpty)
    }

    @Test("a rested socket is handed out without asking, oldest first")
    func restedInOrder() async throws {
        var settings = MediaEngine.Settings()
        settings.parkedSocketRest = .zero
        let engine = try MediaEngine(settings: settings, sink: CollectingSink())
        engine.start()
        defer { engine.stop() }
        var fds: [Int32] = []
        for index in 0..<3 {
            let fd = try engine.bind(host: "127.0.0.1", port: 0).get()
            Self.attach(engine, "call\(index)", fd: fd, rtcp: nil, port: try #require(MediaEngine.localPort(of: fd)))
            _ = await Self.end(engine, "call\(index)")
            fds.append(fd)
        }
        #expect(engine.takeParkedSocket(host: "127.0.0.1")?.fd == fds[0])
        #expect(engine.takeParkedSocket(host: "127.0.0.1")?.fd == fds[1])
        #expect(engine.takeParkedSocket(host: "127.0.0.1")?.fd == fds[2])
        #expect(engine.takeParkedSocket(host: "127.0.0.1") == nil)
        for fd in fds { close(fd) }
    }

    @Test("past the limit, or for a recording that is gone, the sockets are closed and their ports reported freed")
    func fullPark() async throws {
        var settings = MediaEngine.Settings()
        settings.parkedSocketLimit = 1
        let engine = try MediaEngine(settings: settings, sink: CollectingSink())
        engine.start()
        defer { engine.stop() }
        var ports: [Int] = []
        for index in 0..<2 {
            let fd = try engine.bind(host: "127.0.0.1", port: 0).get()
            let port = try #require(MediaEngine.localPort(of: fd))
            ports.append(port)
            Self.attach(engine, "call\(index)", fd: fd, rtcp: nil, port: port)
            _ = await Self.end(engine, "call\(index)")
        }
        #expect(engine.parkedSocketCount == 1)
        #expect(engine.takeFreedPorts() == [ports[1]])
        #expect(engine.takeFreedPorts().isEmpty)
        // Closed: the port can be bound again.
        let again = try engine.bind(host: "127.0.0.1", port: ports[1]).get()
        close(again)

        // A socket attached to a recording the engine does not have.
        let orphan = try engine.bind(host: "127.0.0.1", port: 0).get()
        let orphanPort = try #require(MediaEngine.localPort(of: orphan))
        engine.attach(fd: orphan, binding: .init(host: "127.0.0.1", port: orphanPort), recordingID: "gone", streamKey: "1", channel: 0, payloads: RTP.pcmu)
        // The end of another recording runs after the attach (commands run in order).
        Self.attach(engine, "after", fd: try engine.bind(host: "127.0.0.1", port: 0).get(), rtcp: nil, port: 0)
        _ = await Self.end(engine, "after")
        #expect(engine.takeFreedPorts() == [orphanPort, 0])
    }

    @Test("the engine's stop closes the parked sockets")
    func stopCloses() async throws {
        let engine = try MediaEngine(sink: CollectingSink())
        engine.start()
        let fd = try engine.bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(MediaEngine.localPort(of: fd))
        Self.attach(engine, "call", fd: fd, rtcp: nil, port: port)
        _ = await Self.end(engine, "call")
        #expect(engine.parkedSocketCount == 1)
        engine.stop()
        #expect(engine.parkedSocketCount == 0)
        #expect(engine.takeParkedSocket(host: "127.0.0.1", evenIfResting: true) == nil)
        let again = try engine.bind(host: "127.0.0.1", port: port).get()
        close(again)
    }
}
