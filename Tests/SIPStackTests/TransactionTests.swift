import SIPCore
import Testing
@testable import SIPStack

private let timers = SIPTimerConfiguration()
private func response(_ status: Int) -> SIPResponse { SIPResponse(statusCode: status) }

@Suite("Server INVITE transaction (RFC 3261 §17.2.1, RFC 6026)")
struct ServerInviteTransactionTests {
    @Test("non-2xx final over UDP: Timer G retransmits doubling to T2, ACK confirms, Timer I terminates")
    func nonSuccessUDP() {
        var tx = ServerInviteTransaction(reliable: false, timers: timers)
        #expect(tx.start() == [.schedule(.trying, after: .milliseconds(200))])
        #expect(tx.send(response(100)) == [.cancel(.trying), .sendResponse(response(100))])
        #expect(tx.send(response(486)) == [.sendResponse(response(486)), .schedule(.timerG, after: .milliseconds(500)), .schedule(.timerH, after: .seconds(32))])
        #expect(tx.state == .completed)
        #expect(tx.timerFired(.timerG) == [.sendResponse(response(486)), .schedule(.timerG, after: .seconds(1))])
        #expect(tx.timerFired(.timerG) == [.sendResponse(response(486)), .schedule(.timerG, after: .seconds(2))])
        #expect(tx.timerFired(.timerG) == [.sendResponse(response(486)), .schedule(.timerG, after: .seconds(4))])
        #expect(tx.timerFired(.timerG) == [.sendResponse(response(486)), .schedule(.timerG, after: .seconds(4))])
        #expect(tx.receivedRetransmission() == [.sendResponse(response(486))])
        #expect(tx.receivedACK() == [.cancel(.timerG), .cancel(.timerH), .schedule(.timerI, after: .seconds(5))])
        #expect(tx.state == .confirmed)
        // §17.2.1: further ACKs are absorbed in Confirmed.
        #expect(tx.receivedACK() == [])
        #expect(tx.timerFired(.timerI) == [.terminated])
        #expect(tx.state == .terminated)
    }

    @Test("non-2xx final over TCP: no Timer G, ACK terminates at once")
    func nonSuccessTCP() {
        var tx = ServerInviteTransaction(reliable: true, timers: timers)
        #expect(tx.send(response(487)) == [.cancel(.trying), .sendResponse(response(487)), .schedule(.timerH, after: .seconds(32))])
        #expect(tx.receivedACK() == [.cancel(.timerG), .cancel(.timerH), .terminated])
    }

    @Test("Timer H: no ACK for a non-2xx final ends the transaction")
    func timerH() {
        var tx = ServerInviteTransaction(reliable: false, timers: timers)
        _ = tx.send(response(603))
        #expect(tx.timerFired(.timerH) == [.cancel(.timerG), .timedOut, .terminated])
    }

    @Test("2xx moves to Accepted: retransmitted INVITEs absorbed, 2xx from the TU passed on, Timer L ends it")
    func accepted() {
        var tx = ServerInviteTransaction(reliable: false, timers: timers)
        #expect(tx.send(response(200)) == [.cancel(.trying), .sendResponse(response(200)), .schedule(.timerL, after: .seconds(32))])
        #expect(tx.state == .accepted)
        #expect(tx.receivedRetransmission() == [])
        #expect(tx.send(response(200)) == [.sendResponse(response(200))])
        #expect(tx.send(response(500)) == [])
        #expect(tx.timerFired(.timerG) == [])
        #expect(tx.timerFired(.timerL) == [.terminated])
    }

    @Test("a retransmitted INVITE in Proceeding gets 100 Trying before any answer, then the last provisional")
    func proceedingRetransmission() {
        var tx = ServerInviteTransaction(reliable: false, timers: timers)
        #expect(tx.receivedRetransmission() == [.sendTrying])
        _ = tx.send(response(100))
        #expect(tx.receivedRetransmission() == [.sendResponse(response(100))])
    }

    @Test("100 Trying only when the TU has not answered within 200 ms (§17.2.1)")
    func tryingTimer() {
        var slow = ServerInviteTransaction(reliable: false, timers: timers)
        _ = slow.start()
        #expect(slow.timerFired(.trying) == [.sendTrying])
        var fast = ServerInviteTransaction(reliable: false, timers: timers)
        _ = fast.start()
        _ = fast.send(response(200))
        #expect(fast.timerFired(.trying) == [])
    }

    @Test("T1/T2 come from configuration")
    func configurableTimers() {
        var tx = ServerInviteTransaction(reliable: false, timers: SIPTimerConfiguration(t1: .milliseconds(100), t2: .milliseconds(300), t4: .seconds(1)))
        #expect(tx.send(response(480)) == [.cancel(.trying), .sendResponse(response(480)), .schedule(.timerG, after: .milliseconds(100)), .schedule(.timerH, after: .milliseconds(6400))])
        #expect(tx.timerFired(.timerG) == [.sendResponse(response(480)), .schedule(.timerG, after: .milliseconds(200))])
        #expect(tx.timerFired(.timerG) == [.sendResponse(response(480)), .schedule(.timerG, after: .milliseconds(300))])
    }
}

@Suite("Server non-INVITE transaction (RFC 3261 §17.2.2)")
struct ServerNonInviteTransactionTests {
    @Test("UDP: Trying discards retransmissions, Completed resends the final, Timer J terminates")
    func udp() {
        var tx = ServerNonInviteTransaction(reliable: false, timers: timers)
        #expect(tx.receivedRetransmission() == [])
        #expect(tx.send(response(200)) == [.sendResponse(response(200)), .schedule(.timerJ, after: .seconds(32))])
        #expect(tx.receivedRetransmission() == [.sendResponse(response(200))])
        #expect(tx.send(response(500)) == [])
        #expect(tx.timerFired(.timerJ) == [.terminated])
    }

    @Test("TCP: Timer J is zero, the final response terminates")
    func tcp() {
        var tx = ServerNonInviteTransaction(reliable: true, timers: timers)
        #expect(tx.send(response(100)) == [.sendResponse(response(100))])
        #expect(tx.state == .proceeding)
        #expect(tx.send(response(200)) == [.sendResponse(response(200)), .terminated])
    }
}

@Suite("Client non-INVITE transaction (RFC 3261 §17.1.2)")
struct ClientNonInviteTransactionTests {
    let bye = SIPRequest(method: .bye, uri: SIPURI(host: "192.0.2.10"))

    @Test("UDP: Timer E doubles to T2, stays at T2 in Proceeding, final response then Timer K")
    func udp() {
        var tx = ClientNonInviteTransaction(request: bye, reliable: false, timers: timers)
        #expect(tx.start() == [.sendRequest(bye), .schedule(.timerE, after: .milliseconds(500)), .schedule(.timerF, after: .seconds(32))])
        #expect(tx.timerFired(.timerE) == [.sendRequest(bye), .schedule(.timerE, after: .seconds(1))])
        #expect(tx.received(response(100)) == [.deliverResponse(response(100))])
        #expect(tx.timerFired(.timerE) == [.sendRequest(bye), .schedule(.timerE, after: .seconds(4))])
        #expect(tx.received(response(200)) == [.cancel(.timerE), .cancel(.timerF), .deliverResponse(response(200)), .schedule(.timerK, after: .seconds(5))])
        #expect(tx.received(response(200)) == [])
        #expect(tx.timerFired(.timerK) == [.terminated])
    }

    @Test("Timer F: no answer means timeout")
    func timeout() {
        var tx = ClientNonInviteTransaction(request: bye, reliable: true, timers: timers)
        #expect(tx.start() == [.sendRequest(bye), .schedule(.timerF, after: .seconds(32))])
        #expect(tx.timerFired(.timerF) == [.cancel(.timerE), .timedOut, .terminated])
    }
}
