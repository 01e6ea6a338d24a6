/// ITU-T G.711 µ-law (PCMU) and A-law (PCMA) decoding to 16-bit linear PCM, by table: 256
/// entries each, built once from the companding rules.
public enum G711 {
    public static let ulawTable: [Int16] = (0...255).map { ulawDecode(UInt8($0)) }
    public static let alawTable: [Int16] = (0...255).map { alawDecode(UInt8($0)) }

    /// µ-law: bits are inverted; sign, 3-bit segment, 4-bit step; bias 0x84 (132).
    static func ulawDecode(_ code: UInt8) -> Int16 {
        let value = ~code
        let segment = Int((value >> 4) & 0x07)
        let magnitude = ((Int(value & 0x0F) << 3) + 0x84) << segment
        return Int16(value & 0x80 != 0 ? 0x84 - magnitude : magnitude - 0x84)
    }

    /// A-law: even bits inverted (xor 0x55); sign, 3-bit segment, 4-bit step.
    static func alawDecode(_ code: UInt8) -> Int16 {
        let value = code ^ 0x55
        let segment = Int((value >> 4) & 0x07)
        var magnitude = Int(value & 0x0F) << 4
        magnitude += segment == 0 ? 8 : 0x108
        if segment > 1 { magnitude <<= segment - 1 }
        return Int16(value & 0x80 != 0 ? magnitude : -magnitude)
    }

    /// Decodes `payload` into `output` (appended).
    public static func decode(ulaw payload: UnsafeRawBufferPointer, into output: inout [Int16]) {
        output.reserveCapacity(output.count + payload.count)
        for byte in payload { output.append(ulawTable[Int(byte)]) }
    }

    public static func decode(alaw payload: UnsafeRawBufferPointer, into output: inout [Int16]) {
        output.reserveCapacity(output.count + payload.count)
        for byte in payload { output.append(alawTable[Int(byte)]) }
    }
}
