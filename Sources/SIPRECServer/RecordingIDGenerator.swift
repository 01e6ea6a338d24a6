/// Recording ids in the RFC 9562 version 4 UUID format, without a system call per id:
/// two SplitMix64 streams seeded from the system's random generator and reseeded every
/// `reseedInterval` ids, so ids are unique in practice and cannot be predicted from a few of
/// them for long. (Foundation's UUID() reads the system generator every time: a measurable
/// share of a call's CPU at thousands of calls per second.)
struct RecordingIDGenerator {
    private var high: UInt64 = 0
    private var low: UInt64 = 0
    private var remaining = 0
    let reseedInterval: Int

    init(reseedInterval: Int = 1024) {
        self.reseedInterval = max(1, reseedInterval)
    }

    mutating func next() -> String {
        if remaining == 0 {
            var system = SystemRandomNumberGenerator()
            high = system.next()
            low = system.next()
            remaining = reseedInterval
        }
        remaining -= 1
        var a = Self.splitMix(&high)
        var b = Self.splitMix(&low)
        // RFC 9562 §5.4: version 4 in bits 48-51, variant 0b10 in bits 64-65.
        a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        let hex = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(36)
        for (index, word) in [a, b].enumerated() {
            for nibble in 0..<16 {
                let position = index * 16 + nibble
                if position == 8 || position == 12 || position == 16 || position == 20 { text.append(UInt8(ascii: "-")) }
                text.append(hex[Int((word >> UInt64(60 - nibble * 4)) & 0xF)])
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func splitMix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
