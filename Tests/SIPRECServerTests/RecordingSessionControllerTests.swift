import Foundation
import Logging
import NIOCore
import NIOEmbedded
import SIPCore
import SIPTestSupport
import Testing
@testable import SIPRECServer
@testable import SIPStack

/// The controller driven through the SIP core on an embedded event loop: what it holds
/// (dialogs, ports, open recordings) as CUCM's two legs come and go in either order, and after
/// a CANCEL. Responses have no socket to go to here; only the state is checked.
@Suite("Recording session controller")
struct RecordingSessionControllerTests {
    final class Harness {
        let loop = EmbeddedEventLoop()
        let core: SIPServerCore
        let controller: RecordingSessionController
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("siprecd-controller-\(UUID().uuidString)")
        let peer = SIPPeer(transport: .tcp, remoteAddress: try! SocketAddress(ipAddress: "192.0.2.25", port: 5060), connectionID: 1)

        init(answerDelay: Duration = .zero, parkedSocketRest: Duration? = nil) {
            var configuration = ServerConfiguration()
            configuration.dataDirectory = data.path
            configuration.rtpPorts = 30000...30099
            configuration.answerDelay = answerDelay
            if let parkedSocketRest { configuration.recording.parkedSocketRest = parkedSocketRest }
            core = SIPServerCore(eventLoop: loop, configuration: SIPEndpointConfiguration(), logger: Logger(label: "test"))
            controller = try! RecordingSessionController(configuration: configuration, logger: Logger(label: "test"), eventLoop: loop)
            core.application = controller
            controller.core = core
        }

        func receive(_ text: String) throws {
            guard case .message(let message) = try SIPMessageParser().parse(datagram: ByteBuffer(string: text)) else {
                throw HarnessError.notAMessage
            }
            core.received(message, from: peer)
        }

        func receiveFixture(_ file: String) throws {
            try receive(String(buffer: try Fixtures.bytes("siprec/cucm-bib", file)))
        }

        /// A BYE from the SRC for the dialog of `callID`.
        func bye(_ callID: String) throws {
            let dialog = try #require(core.endpoint.dialogs.keys.first { $0.callID == callID })
            try receive("BYE sip:siprecd@198.51.100.10 SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.25:5060;branch=z9hG4bKbye\(callID.prefix(8))\r\n"
                + "From: <sip:+12025550121@192.0.2.25>;tag=\(dialog.remoteTag)\r\nTo: <sip:+12025550199@198.51.100.10>;tag=\(dialog.localTag)\r\n"
                + "Call-ID: \(callID)\r\nCSeq: 102 BYE\r\nContent-Length: 0\r\n\r\n")
        }

        func stop() {
            controller.stopMedia()
            controller.closeMediaSockets()
            try? FileManager.default.removeItem(at: data)
        }

        enum HarnessError: Error { case notAMessage }
    }

    static let nearCallID = "9e2a8c00-66b1f3a2-1c4d-190200c0@192.0.2.25"
    static let farCallID = "9e2a8c00-66b1f3a2-1c4e-190200c0@192.0.2.25"

    @Test("CUCM legs in either order make one recording; it closes when both have ended, and every port comes back",
          arguments: [["invite-nearend.sip", "invite-farend.sip"], ["invite-farend.sip", "invite-nearend.sip"]])
    func legsInEitherOrder(order: [String]) throws {
        let harness = Harness()
        defer { harness.stop() }
        try harness.receiveFixture(order[0])
        #expect(harness.controller.snapshot == .init(activeCalls: 1, portsInUse: 1, activeRecordings: 1))
        try harness.receiveFixture(order[1])
        #expect(harness.controller.snapshot == .init(activeCalls: 2, portsInUse: 2, activeRecordings: 1))
        try harness.bye(Self.nearCallID)
        #expect(harness.controller.snapshot == .init(activeCalls: 1, portsInUse: 1, activeRecordings: 1))
        try harness.bye(Self.farCallID)
        #expect(harness.controller.snapshot == .init(activeCalls: 0, portsInUse: 0, activeRecordings: 0))
    }

    @Test("a leg's ended stream leaves its socket parked: the next call gets that port, not the pool's next")
    func parkedSocketReused() async throws {
        let harness = Harness(parkedSocketRest: .zero)
        harness.controller.startMedia()
        defer { harness.stop() }
        func port(_ callID: String) -> Int? {
            harness.controller.established.first { $0.key.callID == callID }?.value.ports.compactMap { $0 }.first
        }
        try harness.receiveFixture("invite-nearend.sip")
        try harness.receiveFixture("invite-farend.sip")
        let near = try #require(port(Self.nearCallID))
        #expect(port(Self.farCallID) == near + 2)
        // The near end's leg ends while the recording goes on: its stream is detached.
        try harness.bye(Self.nearCallID)
        #expect(harness.controller.snapshot.portsInUse == 1)
        // The media thread parks the detached socket at its next turn (at most its 20 ms tick).
        let deadline = ContinuousClock.now + .seconds(10)
        while harness.controller.media.engine.parkedSocketCount == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(harness.controller.media.engine.parkedSocketCount == 1)
        #expect(harness.controller.media.freePorts == 49)
        // CUCM sets the near end up again (new Call-ID, same x-refci).
        var again = String(buffer: try Fixtures.bytes("siprec/cucm-bib", "invite-nearend.sip"))
        again = again.replacingOccurrences(of: Self.nearCallID, with: "renewed-\(Self.nearCallID)")
            .replacingOccurrences(of: "z9hG4bK6b21f0a3e9", with: "z9hG4bK6b21f0a3ff")
        try harness.receive(again)
        #expect(port("renewed-\(Self.nearCallID)") == near)
        #expect(harness.controller.media.engine.parkedSocketCount == 0)
        #expect(harness.controller.snapshot.portsInUse == 2)
    }

    @Test("a second dialog for a side that is still open joins the same recording")
    func sameSideTwice() throws {
        let harness = Harness()
        defer { harness.stop() }
        try harness.receiveFixture("invite-nearend.sip")
        try harness.receiveFixture("invite-farend.sip")
        // CUCM sets the near-end leg up again (new Call-ID, same x-refci) before the old one's BYE.
        var again = String(buffer: try Fixtures.bytes("siprec/cucm-bib", "invite-nearend.sip"))
        again = again.replacingOccurrences(of: Self.nearCallID, with: "renewed-\(Self.nearCallID)")
            .replacingOccurrences(of: "z9hG4bK6b21f0a3e9", with: "z9hG4bK6b21f0a3ff")
        try harness.receive(again)
        #expect(harness.controller.snapshot == .init(activeCalls: 3, portsInUse: 3, activeRecordings: 1))
        try harness.bye(Self.nearCallID)
        try harness.bye(Self.farCallID)
        #expect(harness.controller.snapshot.activeRecordings == 1)
        try harness.bye("renewed-\(Self.nearCallID)")
        #expect(harness.controller.snapshot == .init(activeCalls: 0, portsInUse: 0, activeRecordings: 0))
    }

    @Test("a leg after its partner's recording ended is the next segment; a cancelled leg is nobody's predecessor")
    func lateLegAndCancelledLeg() throws {
        let harness = Harness()
        defer { harness.stop() }
        try harness.receiveFixture("invite-nearend.sip")
        let first = try #require(harness.controller.recordingState(callID: Self.nearCallID))
        #expect(first.segment == 1 && first.previousRecordingID == nil)
        try harness.bye(Self.nearCallID)
        try harness.receiveFixture("invite-farend.sip")
        let late = try #require(harness.controller.recordingState(callID: Self.farCallID))
        #expect(late.segment == 2)
        #expect(late.previousRecordingID == first.recordingID)
        #expect(late.interactionID == first.interactionID)

        let cancelled = Harness(answerDelay: .seconds(10))
        defer { cancelled.stop() }
        try cancelled.receiveFixture("invite-nearend.sip")
        try cancelled.receive(Self.cancel(for: "invite-nearend.sip"))
        #expect(cancelled.controller.snapshot.activeRecordings == 0)
        try cancelled.receiveFixture("invite-farend.sip")
        let alone = try #require(cancelled.controller.recordingState(callID: Self.farCallID))
        #expect(alone.segment == 1 && alone.previousRecordingID == nil)
    }

    static func cancel(for file: String) throws -> String {
        let invite = String(buffer: try Fixtures.bytes("siprec/cucm-bib", file))
        let head = invite.components(separatedBy: "\r\n").filter { line in
            ["Via:", "From:", "To:", "Call-ID:"].contains { line.hasPrefix($0) }
        }
        return "CANCEL sip:+12025550199@198.51.100.10:5060 SIP/2.0\r\n" + head.joined(separator: "\r\n")
            + "\r\nCSeq: 101 CANCEL\r\nContent-Length: 0\r\n\r\n"
    }

    @Test("no media while every stream is paused (a PCI pause) does not end the call; no media otherwise ends it with a BYE")
    func noMediaWhilePaused() throws {
        let harness = Harness()
        defer { harness.stop() }
        let invite = String(buffer: try Fixtures.bytes("siprec/broadworks", "invite.sip"))
        try harness.receive(invite)
        let callID = try #require(invite.components(separatedBy: "\r\n").first { $0.hasPrefix("Call-ID:") }?.dropFirst(8).trimmingCharacters(in: .whitespaces))
        let recordingID = try #require(harness.controller.recordingState(callID: callID)?.recordingID)
        // The SRC pauses: a re-INVITE with a=inactive, in the dialog just made.
        let dialog = try #require(harness.core.endpoint.dialogs.keys.first { $0.callID == callID })
        var pause = String(buffer: try Fixtures.bytes("siprec/broadworks", "reinvite-pause.sip"))
        pause = pause.replacingOccurrences(of: #"(To:[^\r\n]*;tag=)[^;\r\n]+"#, with: "$1\(dialog.localTag)", options: .regularExpression)
        try harness.receive(pause)
        #expect(harness.controller.recordingState(callID: callID)?.streams.allSatisfy { $0.state == "paused" } == true)
        harness.controller.handleMedia(.noMedia(recordingID: recordingID))
        #expect(harness.controller.snapshot.activeRecordings == 1)
        // A call that is not paused and sends nothing is ended.
        try harness.receiveFixture("invite-nearend.sip")
        let bib = try #require(harness.controller.recordingState(callID: Self.nearCallID)?.recordingID)
        harness.controller.handleMedia(.noMedia(recordingID: bib))
        #expect(harness.controller.recordingState(callID: Self.nearCallID) == nil)
        #expect(harness.controller.snapshot.activeRecordings == 1)
    }

    @Test("CANCEL before the answer: the call, its port and its recording are gone")
    func cancelCleansUp() throws {
        let harness = Harness(answerDelay: .seconds(10))
        defer { harness.stop() }
        try harness.receiveFixture("invite-nearend.sip")
        #expect(harness.controller.snapshot == .init(activeCalls: 1, portsInUse: 1, activeRecordings: 1))
        try harness.receive(Self.cancel(for: "invite-nearend.sip"))
        #expect(harness.controller.snapshot == .init(activeCalls: 0, portsInUse: 0, activeRecordings: 0))
    }
}
