/// RFC 2782 target selection: the order in which to try a service's SRV records.
public enum SRVOrdering {
    /// Lowest priority first; within a priority, weighted random: each pick takes a record
    /// with probability weight / (sum of the weights left), then the next pick is among the rest.
    ///
    /// RFC 2782 draws the number from 0...sum with weight-0 records at the front, which gives
    /// those "a very small chance" but also hands the first record in the list one extra share
    /// (3:1 weights would come out 80:20 or 60:40 depending on the arbitrary order). Here the
    /// draw is 1...sum among the weighted records, exactly proportional; weight-0 records keep
    /// the RFC's small chance, 1 / (sum + 1), and when every weight left is 0 each is equally
    /// likely.
    public static func order<Generator: RandomNumberGenerator>(_ records: [SRVRecord], using generator: inout Generator) -> [SRVRecord] {
        let priorities = Set(records.map(\.priority)).sorted()
        var ordered: [SRVRecord] = []
        ordered.reserveCapacity(records.count)
        for priority in priorities {
            var left = records.filter { $0.priority == priority }
            while !left.isEmpty {
                let index = pick(left, using: &generator)
                ordered.append(left.remove(at: index))
            }
        }
        return ordered
    }

    /// The index of the next record among records of one priority.
    static func pick<Generator: RandomNumberGenerator>(_ records: [SRVRecord], using generator: inout Generator) -> Int {
        let sum = records.reduce(UInt64(0)) { $0 + UInt64($1.weight) }
        let zeroWeight = records.indices.filter { records[$0].weight == 0 }
        guard sum > 0 else {
            return zeroWeight[Int(UInt64.random(in: 0..<UInt64(zeroWeight.count), using: &generator))]
        }
        let draw = UInt64.random(in: (zeroWeight.isEmpty ? 1 : 0)...sum, using: &generator)
        if draw == 0 && !zeroWeight.isEmpty {
            // RFC 2782: a weight-0 record has a small chance when others are weighted.
            return zeroWeight[Int(UInt64.random(in: 0..<UInt64(zeroWeight.count), using: &generator))]
        }
        var running: UInt64 = 0
        for index in records.indices where records[index].weight > 0 {
            running += UInt64(records[index].weight)
            if running >= draw { return index }
        }
        return records.indices.last(where: { records[$0].weight > 0 }) ?? 0
    }
}
