#if canImport(Glibc)
import Glibc
#endif

/// Time for the load generator: everything that is compared (200 OK, first RTP packet, BYE)
/// is taken on CLOCK_MONOTONIC so wall-clock steps cannot distort the measured durations.
enum Clock {
    /// Nanoseconds on CLOCK_MONOTONIC.
    @inline(__always)
    static func nanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// Seconds on CLOCK_MONOTONIC.
    @inline(__always)
    static func now() -> Double {
        Double(nanos()) / 1e9
    }

    /// Sleeps until an absolute CLOCK_MONOTONIC deadline. Absolute deadlines do not drift:
    /// the time spent working between two sleeps is not added to the period.
    static func sleep(untilNanos deadline: Int64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }

    static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        sleep(untilNanos: nanos() + Int64(seconds * 1e9))
    }

    /// CPU seconds (user, system) used by this process so far.
    static func processCPU() -> (user: Double, system: Double) {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return (seconds(usage.ru_utime), seconds(usage.ru_stime))
    }
}
