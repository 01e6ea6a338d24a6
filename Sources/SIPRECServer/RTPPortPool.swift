/// Media ports for recorded streams: even ports for RTP, the next odd one for RTCP
/// (RFC 3550 §11). Released ports go to the back of the queue so a port is not handed out
/// again while late packets of its last call may still arrive.
public struct RTPPortPool: Sendable {
    public let range: ClosedRange<Int>
    private var free: [Int]
    private var head = 0
    private var inUse: Set<Int> = []

    public init(range: ClosedRange<Int>) {
        self.range = range
        let first = range.lowerBound + (range.lowerBound % 2)
        free = Array(stride(from: first, through: range.upperBound - 1, by: 2))
    }

    public var available: Int { free.count - head }
    public var allocated: Int { inUse.count }

    public mutating func allocate() -> Int? {
        guard head < free.count else { return nil }
        let port = free[head]
        head += 1
        // Compact the queue now and then so it does not grow without bound.
        if head > 1024 && head * 2 > free.count {
            free.removeFirst(head)
            head = 0
        }
        inUse.insert(port)
        return port
    }

    public mutating func release(_ port: Int) {
        guard inUse.remove(port) != nil else { return }
        free.append(port)
    }

    /// Parses `LOW-HIGH`.
    public static func parseRange(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]),
              low >= 1024, high <= 65535, high - low >= 1 else { return nil }
        return low...high
    }
}
