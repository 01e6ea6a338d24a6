/// How packet counters read in tables.
enum StreamStatistics {
    /// Lost packets as a share of expected ones (received + lost): `0.0%`, "-" with no traffic.
    static func lossPercent(packets: Int?, lost: Int?) -> String {
        let received = max(0, packets ?? 0)
        let missing = max(0, lost ?? 0)
        let expected = received + missing
        guard expected > 0 else { return "-" }
        return ByteCountText.fixed(Double(missing) * 100 / Double(expected), digits: 1) + "%"
    }

    /// `1.2 ms`, "-" when unknown.
    static func jitter(_ milliseconds: Double?) -> String {
        guard let milliseconds, milliseconds.isFinite else { return "-" }
        return ByteCountText.fixed(milliseconds, digits: 1) + " ms"
    }
}
