#if canImport(Glibc)
import Glibc
#endif

/// Recording ids in the RFC 9562 version 7 UUID format: the call's start in Unix milliseconds
/// (48 bits), then 74 random bits from the kernel's generator (/dev/urandom) read in batches of
/// `batch` ids (Foundation's UUID() makes one system call per id, a measurable share of a
/// call's CPU at thousands of calls per second). Unlike a seeded PRNG, seeing some ids tells
/// nothing about the random part of others.
///
/// Time first, because the id is the catalog's primary key and names its search keys: ids in
/// start order append to the end of those B-trees, where random (version 4) ids wrote a
/// different page of each index for nearly every new recording (decision 0016).
struct RecordingIDGenerator {
    private var random: [UInt8] = []
    private var offset = 0
    let batch: Int

    init(batch: Int = 256) {
        self.batch = max(1, batch)
    }

    /// `milliseconds`: the time the id stands for, in Unix milliseconds (the call's start).
    mutating func next(milliseconds: UInt64) -> String {
        if offset + 16 > random.count { refill() }
        var bytes = Array(random[offset..<(offset + 16)])
        offset += 16
        // RFC 9562 §5.7: unix_ts_ms big-endian in bytes 0-5, version 7 in the high nibble of
        // byte 6, variant 0b10 in byte 8; the rest stays random.
        let time = milliseconds & 0xFFFF_FFFF_FFFF
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: time >> (8 * (5 - index))) }
        bytes[6] = (bytes[6] & 0x0F) | 0x70
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        var text = [UInt8]()
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(Self.hexDigit(byte >> 4))
            text.append(Self.hexDigit(byte & 0x0F))
        }
        return String(decoding: text, as: UTF8.self)
    }

    private mutating func refill() {
        random = [UInt8](repeating: 0, count: batch * 16)
        var filled = 0
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            random.withUnsafeMutableBytes { buffer in
                guard let base = buffer.baseAddress else { return }
                while filled < buffer.count {
                    let got = read(fd, base + filled, buffer.count - filled)
                    guard got > 0 else { break }
                    filled += got
                }
            }
            close(fd)
        }
        if filled < random.count {
            // /dev/urandom not readable (not expected on Linux): the system generator fills in.
            var system = SystemRandomNumberGenerator()
            for index in filled..<random.count { random[index] = UInt8.random(in: .min ... .max, using: &system) }
        }
        offset = 0
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
