import Media
import Testing

@Suite("RTP reorder buffer")
struct RTPReorderBufferTests {
    enum Out: Equatable {
        case packet(UInt16)
        case gap(Int)
    }

    /// Feeds (sequence, ssrc) pairs; the element is the sequence number itself.
    static func run(_ buffer: inout RTPReorderBuffer<UInt16>, _ packets: [(UInt16, UInt32)], flush: Bool = true) -> [Out] {
        var out: [Out] = []
        let emit: (RTPReorderBuffer<UInt16>.Output) -> Void = { output in
            switch output {
            case .packet(let element, _, _): out.append(.packet(element))
            case .gap(let count): out.append(.gap(count))
            }
        }
        for (sequence, ssrc) in packets {
            buffer.insert(sequence, sequence: sequence, timestamp: UInt32(sequence) * 160, ssrc: ssrc, emit: emit)
        }
        if flush { buffer.flush(emit: emit) }
        return out
    }

    @Test("in-order packets pass straight through")
    func inOrder() {
        var buffer = RTPReorderBuffer<UInt16>(depth: 4)
        #expect(Self.run(&buffer, [(10, 1), (11, 1), (12, 1)], flush: false) == [.packet(10), .packet(11), .packet(12)])
        #expect(buffer.waiting == 0)
    }

    @Test("reordered packets come out in order; duplicates and late ones are dropped and counted")
    func reorderDuplicatesLate() {
        var buffer = RTPReorderBuffer<UInt16>(depth: 4)
        let out = Self.run(&buffer, [(10, 1), (12, 1), (12, 1), (11, 1), (11, 1), (13, 1), (10, 1)])
        #expect(out == [.packet(10), .packet(11), .packet(12), .packet(13)])
        // The second 12 repeats one still waiting; the second 11 and 10 repeat released ones.
        #expect(buffer.statistics.duplicates == 3)
        #expect(buffer.statistics.late == 0)
        #expect(buffer.statistics.lost == 0)
    }

    @Test("a missing packet is declared lost once depth later packets wait; arriving after that it is late")
    func loss() {
        var buffer = RTPReorderBuffer<UInt16>(depth: 2)
        let out = Self.run(&buffer, [(1, 1), (3, 1), (4, 1), (5, 1), (2, 1)])
        #expect(out == [.packet(1), .gap(1), .packet(3), .packet(4), .packet(5)])
        #expect(buffer.statistics.lost == 1 && buffer.statistics.late == 1)
    }

    @Test("the 16-bit sequence wraps without loss; extended numbers keep counting")
    func wrap() {
        var buffer = RTPReorderBuffer<UInt16>(depth: 4)
        var extended: [Int64] = []
        for sequence: UInt16 in [65534, 0, 65535, 1] {
            buffer.insert(sequence, sequence: sequence, timestamp: 0, ssrc: 7) { output in
                if case .packet(_, let number, _) = output { extended.append(number) }
            }
        }
        buffer.flush { output in if case .packet(_, let number, _) = output { extended.append(number) } }
        #expect(extended == [65534 + 65536, 65535 + 65536, 131_072, 131_073])
        #expect(buffer.statistics.lost == 0)
    }

    @Test("a new SSRC flushes the old source first; a jump beyond max dropout restarts")
    func newSourceAndRestart() {
        var buffer = RTPReorderBuffer<UInt16>(depth: 4, maxDropout: 100)
        let out = Self.run(&buffer, [(1, 1), (3, 1), (500, 2), (501, 2), (9000, 2), (9001, 2)])
        #expect(out == [.packet(1), .gap(1), .packet(3), .packet(500), .packet(501), .packet(9000), .packet(9001)])
        #expect(buffer.statistics.sourceChanges == 1)
        #expect(buffer.statistics.restarts == 1)
        #expect(buffer.ssrc == 2)
    }

    @Test("a forward jump within max dropout is a gap of the packets that never came")
    func forwardJump() {
        var buffer = RTPReorderBuffer<UInt16>(depth: 4, maxDropout: 3000)
        let out = Self.run(&buffer, [(1, 1), (200, 1), (201, 1)])
        #expect(out == [.packet(1), .gap(198), .packet(200), .packet(201)])
        #expect(buffer.statistics.lost == 198)
    }
}
