#if canImport(Glibc)
import Glibc
#endif

/// Debian's libsrtp2 does its crypto through NSS, and initialises NSS itself with
/// NSS_INIT_OPTIMIZESPACE, which makes the softoken's session and object hash tables small
/// (32 buckets): every packet's cipher and HMAC work walks lists that grow with the number of
/// live SRTP sessions. Measured with libsrtp2 2.5.0 on this machine, srtp_protect of a 172-byte
/// AES_CM_128_HMAC_SHA1_80 packet costs 1.9 µs with 1 session, 5.6 µs with 1,000, 15.5 µs with
/// 2,000 and 33 µs with 4,000. NSS initialised first without that flag (1,024 buckets) keeps it
/// at 5.2 µs with 2,000 sessions and 6.7 µs with 4,000, so the load generator does that before
/// its first SRTP session; libsrtp2 then shares the initialised NSS.
///
/// Looked up at run time (as sendmmsg is): NSS is in the process only because libsrtp2 links
/// it, and a libsrtp2 built on OpenSSL has nothing to prepare.
enum SRTPBackend {
    /// NSS_INIT_READONLY | NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB | NSS_INIT_FORCEOPEN |
    /// NSS_INIT_NOROOTINIT, without NSS_INIT_OPTIMIZESPACE (0x20).
    private static let flags: UInt32 = 0x01 | 0x02 | 0x04 | 0x08 | 0x10

    /// A warning when NSS is there but could not be initialised; nil otherwise.
    private static let problem: String? = {
        guard let process = dlopen(nil, RTLD_NOW),
              let isInitializedSymbol = dlsym(process, "NSS_IsInitialized"),
              let initializeSymbol = dlsym(process, "NSS_Initialize") else { return nil }
        typealias IsInitialized = @convention(c) () -> Int32
        typealias Initialize = @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                               UnsafePointer<CChar>?, UInt32) -> Int32
        guard unsafeBitCast(isInitializedSymbol, to: IsInitialized.self)() == 0 else { return nil }
        let status = unsafeBitCast(initializeSymbol, to: Initialize.self)("", "", "", "", flags)
        return status == 0 ? nil : "NSS_Initialize failed (\(status)): libsrtp2's own NSS set-up makes SRTP slower with many streams"
    }()

    /// Call before the first SRTPContext is made; later calls do nothing.
    static func prepare() {
        if let problem { Log.warning(problem) }
    }
}
