import NIOCore
import SIPTestSupport
import Testing
@testable import SIPStack

@Suite("SIP timer queue")
struct SIPTimerQueueTests {
    static func id(_ number: Int) -> SIPTimerID { .client("tx-\(number)", .timerF) }

    /// Hands out what a plain model (every entry with its deadline) says is due, as time moves
    /// on: entries of SIP's fixed lengths armed in time order, several for one timer id (a
    /// re-arm: the endpoint tells the generations apart), and (with `lengths` random) deadlines
    /// in any order, which overflow the runs into the heap.
    @Test("hands out every entry once due, in deadline order, with its generation", arguments: [
        ("SIP lengths", [500, 1_000, 2_000, 4_000, 5_000, 32_000, 200, 1_800_000]), ("any lengths", []),
    ])
    func matchesModel(name: String, lengths: [Int64]) {
        var random = SeededGenerator(seed: lengths.isEmpty ? 7 : 11)
        var queue = SIPTimerQueue()
        var model: [UInt64: (number: Int, deadline: Int64)] = [:]  // generation -> entry
        var generation: UInt64 = 0
        var now: Int64 = 1_000_000
        func deadline(_ milliseconds: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(milliseconds) * 1_000_000) }
        var fired = 0
        for _ in 0..<20_000 {
            let action = Int.random(in: 0..<10, using: &random)
            let number = Int.random(in: 0..<3_000, using: &random)
            if action < 7 {
                let length = lengths.isEmpty ? Int64.random(in: 0..<40_000, using: &random) : lengths.randomElement(using: &random)!
                generation += 1
                queue.schedule(Self.id(number), generation: generation, at: deadline(now + length))
                model[generation] = (number, now + length)
            } else {
                now += Int64.random(in: 0..<3_000, using: &random)
                let due = queue.popExpired(now: deadline(now))
                let expected = model.filter { $0.value.deadline <= now }
                #expect(due.count == expected.count)
                #expect(Set(due.map(\.generation)) == Set(expected.keys))
                #expect(due.allSatisfy { model[$0.generation].map { Self.id($0.number) } == $0.id }, "each entry keeps its id")
                let deadlines = due.compactMap { model[$0.generation]?.deadline }
                #expect(deadlines == deadlines.sorted(), "in deadline order")
                for key in expected.keys { model[key] = nil }
                fired += due.count
                #expect(queue.count == model.count)
                #expect(queue.earliestDeadline == model.values.map(\.deadline).min().map(deadline))
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
                queue.schedule(.client("\(index)-\(offset)", .timerE), generation: UInt64(index * 3 + offset + 1), at: .uptimeNanoseconds(UInt64(now + length * 1_000_000)))
            }
        }
        #expect(queue.runCount == 3)
        #expect(queue.heapCount == 0)
    }
}
