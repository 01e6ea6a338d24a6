import CMediaIO
import Foundation

/// The SDES crypto suites (RFC 4568 §6.2, RFC 7714 §12) libsrtp2 decrypts for us.
public enum SRTPSuite: Int, Sendable, CaseIterable {
    case aesCM128HMACSHA1_80 = 1
    case aesCM128HMACSHA1_32 = 2
    case aes256CMHMACSHA1_80 = 3
    case aes256CMHMACSHA1_32 = 4
    case aeadAES128GCM = 5
    case aeadAES256GCM = 6

    public init?(name: String) {
        guard let suite = Self.allCases.first(where: { $0.name == name.uppercased() }) else { return nil }
        self = suite
    }

    public var name: String {
        switch self {
        case .aesCM128HMACSHA1_80: return "AES_CM_128_HMAC_SHA1_80"
        case .aesCM128HMACSHA1_32: return "AES_CM_128_HMAC_SHA1_32"
        case .aes256CMHMACSHA1_80: return "AES_256_CM_HMAC_SHA1_80"
        case .aes256CMHMACSHA1_32: return "AES_256_CM_HMAC_SHA1_32"
        case .aeadAES128GCM: return "AEAD_AES_128_GCM"
        case .aeadAES256GCM: return "AEAD_AES_256_GCM"
        }
    }

    /// Master key and salt together, in bytes.
    public var keyLength: Int { Int(mio_srtp_key_length(Int32(rawValue))) }
}

/// One side's SDES key: what an `a=crypto` line carries (RFC 4568 §9.1).
public struct SRTPKey: Sendable, Equatable {
    public var tag: Int
    public var suite: SRTPSuite
    public var keyAndSalt: [UInt8]
    /// Master key index: the value, as `mkiLength` big-endian bytes, carried in each packet.
    public var mki: [UInt8]?
    /// The key's lifetime in packets, when the line says.
    public var lifetime: UInt64?

    public init(tag: Int, suite: SRTPSuite, keyAndSalt: [UInt8], mki: [UInt8]? = nil, lifetime: UInt64? = nil) {
        self.tag = tag
        self.suite = suite
        self.keyAndSalt = keyAndSalt
        self.mki = mki
        self.lifetime = lifetime
    }

    public enum ParseError: Error, Equatable {
        case malformed, unsupportedSuite(String), unsupportedParameter(String), badKeyLength
    }

    /// Parses an `a=crypto` value: `TAG SUITE inline:KEY[|LIFETIME][|MKI:LENGTH][;inline:…] [PARAMS]`.
    /// The first key of the line is used. Session parameters that change the packets
    /// (unencrypted or unauthenticated SRTP, a key derivation rate, FEC order) are refused.
    public init(attribute value: String) throws(ParseError) {
        let fields = value.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 3, let tag = Int(fields[0]), tag >= 0, tag <= 999_999_999 else { throw .malformed }
        guard let suite = SRTPSuite(name: String(fields[1])) else { throw .unsupportedSuite(String(fields[1])) }
        for parameter in fields.dropFirst(3) {
            let name = parameter.split(separator: "=").first.map { $0.uppercased() } ?? ""
            if ["UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP", "KDR", "FEC_ORDER", "FEC_KEY"].contains(name) {
                throw .unsupportedParameter(name)
            }
        }
        guard let firstKey = fields[2].split(separator: ";").first, firstKey.lowercased().hasPrefix("inline:") else { throw .malformed }
        let parts = firstKey.dropFirst("inline:".count).split(separator: "|", omittingEmptySubsequences: false)
        guard let encoded = parts.first, let decoded = Data(base64Encoded: Self.padded(String(encoded))) else { throw .malformed }
        guard decoded.count == suite.keyLength else { throw .badKeyLength }
        var lifetime: UInt64?
        var mki: [UInt8]?
        for part in parts.dropFirst() {
            if part.contains(":") {
                let pieces = part.split(separator: ":")
                guard pieces.count == 2, let value = UInt64(pieces[0]), let length = Int(pieces[1]), (1...128).contains(length) else { throw .malformed }
                mki = (0..<length).map { index in
                    let shift = 8 * (length - 1 - index)
                    return shift >= 64 ? 0 : UInt8((value >> UInt64(shift)) & 0xFF)
                }
            } else if part.hasPrefix("2^"), let power = UInt64(part.dropFirst(2)), power < 64 {
                lifetime = 1 << power
            } else if let value = UInt64(part) {
                lifetime = value
            } else {
                throw .malformed
            }
        }
        self.init(tag: tag, suite: suite, keyAndSalt: Array(decoded), mki: mki, lifetime: lifetime)
    }

    /// A fresh key of `suite` for our side of the answer.
    public static func random(tag: Int, suite: SRTPSuite) -> SRTPKey {
        var generator = SystemRandomNumberGenerator()
        return SRTPKey(tag: tag, suite: suite, keyAndSalt: (0..<suite.keyLength).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// The `a=crypto` value for this key.
    public var attribute: String {
        var text = "\(tag) \(suite.name) inline:\(Data(keyAndSalt).base64EncodedString())"
        if let mki {
            let value = mki.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            text += "|\(value):\(mki.count)"
        }
        return text
    }

    static func padded(_ text: String) -> String {
        let remainder = text.count % 4
        return remainder == 0 ? text : text + String(repeating: "=", count: 4 - remainder)
    }
}

/// A libsrtp2 session for one stream's packets (any SSRC).
public final class SRTPContext {
    private let context: OpaquePointer

    public struct Failure: Error, Equatable {
        /// libsrtp2's `srtp_err_status_t`.
        public var status: Int32
    }

    public init(key: SRTPKey, outbound: Bool = false) throws(Failure) {
        var status: Int32 = 0
        let made: OpaquePointer? = key.keyAndSalt.withUnsafeBufferPointer { keyBytes in
            if let mki = key.mki {
                return mki.withUnsafeBufferPointer { mkiBytes in
                    mio_srtp_create(Int32(key.suite.rawValue), keyBytes.baseAddress, Int32(keyBytes.count), mkiBytes.baseAddress, Int32(mkiBytes.count), outbound ? 1 : 0, &status)
                }
            }
            return mio_srtp_create(Int32(key.suite.rawValue), keyBytes.baseAddress, Int32(keyBytes.count), nil, 0, outbound ? 1 : 0, &status)
        }
        guard let made else { throw Failure(status: status) }
        context = made
    }

    deinit { mio_srtp_destroy(context) }

    /// Verifies and decrypts in place; the new length, or nil when the packet fails.
    @inline(__always)
    public func unprotect(_ packet: UnsafeMutableRawPointer, length: Int) -> Int? {
        var length = Int32(length)
        return mio_srtp_unprotect(context, packet, &length) == 0 ? Int(length) : nil
    }

    /// SRTCP: verifies and decrypts an RTCP compound packet in place.
    public func unprotectRTCP(_ packet: UnsafeMutableRawPointer, length: Int) -> Int? {
        var length = Int32(length)
        return mio_srtp_unprotect_rtcp(context, packet, &length) == 0 ? Int(length) : nil
    }

    /// Encrypts an RTCP compound packet (tests and the load generator).
    public func protectRTCP(_ packet: [UInt8]) -> [UInt8]? {
        var buffer = packet + [UInt8](repeating: 0, count: 148)
        var length = Int32(packet.count)
        let status = buffer.withUnsafeMutableBytes { mio_srtp_protect_rtcp(context, $0.baseAddress, &length) }
        return status == 0 ? Array(buffer[0..<Int(length)]) : nil
    }

    /// Encrypts `packet` (for tests and the load generator).
    public func protect(_ packet: [UInt8]) -> [UInt8]? {
        var buffer = packet + [UInt8](repeating: 0, count: 148)
        var length = Int32(packet.count)
        let status = buffer.withUnsafeMutableBytes { mio_srtp_protect(context, $0.baseAddress, &length) }
        return status == 0 ? Array(buffer[0..<Int(length)]) : nil
    }
}
