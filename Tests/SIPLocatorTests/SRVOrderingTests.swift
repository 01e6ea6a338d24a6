import Testing
import SIPTestSupport
@testable import SIPLocator

private func srv(_ target: String, priority: UInt16, weight: UInt16) -> SRVRecord {
    SRVRecord(priority: priority, weight: weight, port: 5060, target: target)
}

/// How often each target comes first over `trials` orderings.
private func firstChoiceShares(_ records: [SRVRecord], trials: Int, seed: UInt64) -> [String: Double] {
    var generator = SeededGenerator(seed: seed)
    var counts: [String: Int] = [:]
    for _ in 0..<trials {
        let first = SRVOrdering.order(records, using: &generator)[0].target
        counts[first, default: 0] += 1
    }
    return counts.mapValues { Double($0) / Double(trials) }
}

@Suite("RFC 2782 SRV ordering")
struct SRVOrderingTests {
    @Test("lower priority always first, whatever the weights and input order")
    func priorities() {
        var generator = SeededGenerator(seed: 1)
        let records = [srv("c", priority: 30, weight: 100), srv("a", priority: 10, weight: 1), srv("b", priority: 20, weight: 0),
                       srv("a2", priority: 10, weight: 0)]
        for _ in 0..<200 {
            let ordered = SRVOrdering.order(records, using: &generator)
            #expect(ordered.map(\.priority) == [10, 10, 20, 30])
            #expect(Set(ordered.prefix(2).map(\.target)) == ["a", "a2"])
        }
    }

    @Test("weights 3:1 come first about 75% / 25% of the time, in either input order", arguments: [false, true])
    func weightedSplit(reversed: Bool) {
        var records = [srv("node1", priority: 10, weight: 3), srv("node2", priority: 10, weight: 1)]
        if reversed { records.reverse() }
        let shares = firstChoiceShares(records, trials: 40_000, seed: 2782)
        // σ ≈ 0.002 at 40 000 trials; RFC 2782's literal 0...sum draw would give 0.80 or 0.60.
        #expect(abs((shares["node1"] ?? 0) - 0.75) < 0.01)
        #expect(abs((shares["node2"] ?? 0) - 0.25) < 0.01)
    }

    @Test("weight 0 next to weighted records keeps a small chance, 1/(sum+1)")
    func zeroWeightSmallChance() {
        let shares = firstChoiceShares([srv("zero", priority: 1, weight: 0), srv("ten", priority: 1, weight: 10)], trials: 40_000, seed: 9)
        #expect(abs((shares["zero"] ?? 0) - 1.0 / 11.0) < 0.01)
    }

    @Test("all weights 0: each equally likely first")
    func allZero() {
        let shares = firstChoiceShares([srv("a", priority: 1, weight: 0), srv("b", priority: 1, weight: 0), srv("c", priority: 1, weight: 0)],
                                       trials: 30_000, seed: 5)
        for target in ["a", "b", "c"] {
            #expect(abs((shares[target] ?? 0) - 1.0 / 3.0) < 0.015)
        }
    }

    @Test("every record appears exactly once; the same seed gives the same order")
    func permutationAndRepeatable() {
        let records = (0..<12).map { srv("n\($0)", priority: UInt16($0 % 3), weight: UInt16($0 * 7 % 5)) }
        var first = SeededGenerator(seed: 77)
        var second = SeededGenerator(seed: 77)
        let a = SRVOrdering.order(records, using: &first)
        let b = SRVOrdering.order(records, using: &second)
        #expect(a == b)
        #expect(a.count == records.count)
        #expect(Set(a) == Set(records))
    }

    @Test("no records, no order")
    func empty() {
        var generator = SeededGenerator(seed: 3)
        #expect(SRVOrdering.order([], using: &generator).isEmpty)
    }
}
