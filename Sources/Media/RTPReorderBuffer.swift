/// Puts one RTP stream's packets back in sequence order (RFC 3550 §3, Appendix A.1): extended
/// sequence numbers across the 16-bit wrap, duplicates and packets that come after their slot
/// was given up dropped and counted, a gap declared lost once `depth` later packets are
/// waiting, and a new SSRC or a jump beyond `maxDropout` treated as a new source. Pure: packets
/// in, packets and gaps out through `emit`, in order.
public struct RTPReorderBuffer<Element> {
    public enum Output {
        case packet(Element, extendedSequence: Int64, timestamp: UInt32)
        /// `count` packets never arrived (or arrived too late) before the next one released.
        case gap(count: Int)
    }

    public struct Statistics: Hashable, Sendable {
        public var received = 0
        public var released = 0
        public var lost = 0
        public var duplicates = 0
        public var late = 0
        public var sourceChanges = 0
        public var restarts = 0
    }

    private struct Slot {
        var extendedSequence: Int64
        var timestamp: UInt32
        var element: Element
    }

    public let depth: Int
    public let maxDropout: Int64
    public private(set) var statistics = Statistics()
    public private(set) var ssrc: UInt32?
    private var slots: [Slot?]
    /// The extended numbers last released at each ring position, to tell a duplicate of a
    /// released packet from one that arrives after it was declared lost.
    private var released: [Int64]
    private let mask: Int
    private var nextExpected: Int64?
    private var highest: Int64 = 0
    private var buffered = 0

    /// `depth`: how many later packets may wait for a missing one before it is declared lost.
    public init(depth: Int = 8, maxDropout: Int = 3000) {
        self.depth = max(1, depth)
        self.maxDropout = Int64(max(1, maxDropout))
        var size = 16
        while size < self.depth * 2 { size *= 2 }
        slots = Array(repeating: nil, count: size)
        released = Array(repeating: -1, count: size)
        mask = size - 1
    }

    public var waiting: Int { buffered }

    public mutating func insert(_ element: Element, sequence: UInt16, timestamp: UInt32, ssrc packetSSRC: UInt32,
                                emit: (Output) -> Void) {
        statistics.received += 1
        if let current = ssrc, current != packetSSRC {
            // A new source on the same stream (RFC 3550 §8.2): what the old one left goes first.
            flush(emit: emit)
            statistics.sourceChanges += 1
            nextExpected = nil
        }
        ssrc = packetSSRC
        guard let expected = nextExpected else {
            // Start in cycle 1, so a packet from just before the first one still has a place.
            let extended = Int64(sequence) + 65_536
            nextExpected = extended
            highest = extended
            store(Slot(extendedSequence: extended, timestamp: timestamp, element: element))
            release(emit: emit)
            return
        }
        // RFC 3550 A.1: the shortest distance from the highest sequence seen, across the wrap.
        let delta = Int64(Int16(bitPattern: sequence &- UInt16(truncatingIfNeeded: highest)))
        var extended = highest + delta
        if extended < expected {
            if expected - extended > maxDropout {
                // Far behind anything recent: the sender restarted its numbering.
                restart(at: Int64(sequence) + 65_536, emit: emit)
                extended = Int64(sequence) + 65_536
            } else {
                if released[Int(extended & Int64(mask))] == extended {
                    statistics.duplicates += 1
                } else {
                    statistics.late += 1
                }
                return
            }
        } else if extended - expected > maxDropout {
            restart(at: extended, emit: emit)
        }
        // Keep the ring from wrapping onto waiting packets: give up the oldest slots first.
        while let next = nextExpected, extended - next > Int64(mask) {
            if buffered == 0 {
                // Nothing waits: everything between was lost.
                let missing = Int(extended - next)
                statistics.lost += missing
                emit(.gap(count: missing))
                nextExpected = extended
                break
            }
            advance(emit: emit)
        }
        let index = Int(extended & Int64(mask))
        if let occupant = slots[index], occupant.extendedSequence == extended {
            statistics.duplicates += 1
            return
        }
        store(Slot(extendedSequence: extended, timestamp: timestamp, element: element))
        highest = max(highest, extended)
        release(emit: emit)
        while buffered > depth { advance(emit: emit) }
    }

    /// Releases everything waiting, declaring the holes between lost (end of the stream).
    public mutating func flush(emit: (Output) -> Void) {
        while buffered > 0 { advance(emit: emit) }
    }

    private mutating func store(_ slot: Slot) {
        slots[Int(slot.extendedSequence & Int64(mask))] = slot
        buffered += 1
    }

    private mutating func restart(at extended: Int64, emit: (Output) -> Void) {
        flush(emit: emit)
        statistics.restarts += 1
        nextExpected = extended
        highest = extended
    }

    /// Releases the packets that are next in order.
    private mutating func release(emit: (Output) -> Void) {
        while let next = nextExpected, let slot = slots[Int(next & Int64(mask))], slot.extendedSequence == next {
            take(slot, emit: emit)
        }
    }

    /// Gives up on the next expected packet if it is missing (one lost), then releases what
    /// follows in order.
    private mutating func advance(emit: (Output) -> Void) {
        guard let next = nextExpected else { return }
        var missing = 0
        var position = next
        while slots[Int(position & Int64(mask))]?.extendedSequence != position {
            missing += 1
            position += 1
            if missing > mask { break }
        }
        if missing > 0 {
            statistics.lost += missing
            emit(.gap(count: missing))
            nextExpected = position
        }
        release(emit: emit)
    }

    private mutating func take(_ slot: Slot, emit: (Output) -> Void) {
        slots[Int(slot.extendedSequence & Int64(mask))] = nil
        released[Int(slot.extendedSequence & Int64(mask))] = slot.extendedSequence
        buffered -= 1
        statistics.released += 1
        nextExpected = slot.extendedSequence + 1
        emit(.packet(slot.element, extendedSequence: slot.extendedSequence, timestamp: slot.timestamp))
    }
}
