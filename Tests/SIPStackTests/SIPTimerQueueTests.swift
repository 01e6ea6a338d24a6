import NIOCore
import SIPTestSupport
import Testing
@testable import SIPStack

@Suite("SIP timer queue")
struct SIPTimerQueueTests {
    static func id(_ number: Int) -> SIPTimerID { .client("tx-\(number)", .timerF) }

    /// Fires what the queue and a plain model (every armed timer with its deadline) both say is
    /// due, as time moves on: timers of SIP's fixed lengths armed in time order, re-arms,
    /// cancellations, and (with `lengths` random) deadlines in any order, which overflow the
    /// runs into the heap.
    @Test("fires exactly the armed, uncancelled timers that are due, in deadline order", arguments: [
        ("SIP lengths", [500, 1_000, 2_000, 4_000, 5_000, 32_000, 200, 1_800_000]), ("any lengths", []),
    ])
    func matchesModel(name: String, lengths: [Int64]) {
        var random = SeededGenerator(seed: lengths.isEmpty ? 7 : 11)
        var queue = SIPTimerQueue()
        var model: [Int: Int64] = [:]  // id -> deadline (ms)
        var now: Int64 = 1_000_000
        func deadline(_ milliseconds: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(milliseconds) * 1_000_000) }
        var fired = 0
        for _ in 0..<20_000 {
            let action = Int.random(in: 0..<10, using: &random)
            let number = Int.random(in: 0..<3_000, using: &random)
            if action < 6 {
                let length = lengths.isEmpty ? Int64.random(in: 0..<40_000, using: &random) : lengths.randomElement(using: &random)!
                queue.schedule(Self.id(number), at: deadline(now + length))
                model[number] = now + length
            } else if action < 8 {
                queue.cancel(Self.id(number))
                model[number] = nil
            } else {
                now += Int64.random(in: 0..<3_000, using: &random)
                let due = queue.popExpired(now: deadline(now))
                let expected = model.filter { $0.value <= now }
                #expect(due.count == expected.count)
                #expect(Set(due) == Set(expected.keys.map(Self.id)))
                let deadlines = due.compactMap { id -> Int64? in
                    guard case .client(let key, _) = id, let number = Int(key.dropFirst(3)) else { return nil }
                    return model[number]
                }
                #expect(deadlines == deadlines.sorted(), "in deadline order")
                for key in expected.keys { model[key] = nil }
                fired += due.count
                #expect(queue.count == model.count)
                if let earliest = model.values.min() {
                    // The earliest deadline may still be a cancelled one's (dropped when reached),
                    // never later than the earliest live one.
                    #expect(queue.earliestDeadline.map { $0 <= deadline(earliest) } == true)
                }
            }
        }
        #expect(fired > 1_000, "the run fired timers: \(fired)")
    }

    @Test("timers of a few fixed lengths stay in few runs")
    func fewRunsForSIPLengths() {
        var queue = SIPTimerQueue()
        for index in 0..<10_000 {
            let now = Int64(index) * 1_000_000
            for (offset, length) in [Int64(500), 32_000, 200].enumerated() {
                queue.schedule(.client("\(index)-\(offset)", .timerE), at: .uptimeNanoseconds(UInt64(now + length * 1_000_000)))
            }
        }
        #expect(queue.runCount == 3)
        #expect(queue.heapCount == 0)
    }
}
