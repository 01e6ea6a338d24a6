#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic seconds, injected so cache expiry is tested without sleeping.
public protocol LocatorClock: Sendable {
    func now() -> Double
}

/// CLOCK_MONOTONIC: wall-clock steps do not expire or revive cache entries.
public struct MonotonicLocatorClock: LocatorClock {
    public init() {}

    public func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
