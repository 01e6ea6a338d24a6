import Testing
@testable import SIPLocator

@Suite("Target health and failover (OPTIONS pings, RFC 3263 §4.3)")
struct TargetHealthTests {
    @Test("503 or no answer marks a target down; only a 2xx brings it back")
    func pings() {
        var health = TargetHealth(targets: 2)
        #expect(health.up == [true, true])
        // (probe, target, whether the state changed, states after)
        let steps: [(TargetHealth.Probe, Int, Bool, [Bool])] = [
            (.response(status: 503), 0, true, [false, true]),
            (.response(status: 404), 0, false, [false, true]),
            (.response(status: 200), 0, true, [true, true]),
            (.timeout, 1, true, [true, false]),
            (.response(status: 202), 1, true, [true, true]),
            (.transportError, 1, true, [true, false]),
            (.response(status: 405), 1, false, [true, false]),
            (.timeout, 7, false, [true, false]),
        ]
        for (probe, target, changes, after) in steps {
            let changed = health.record(probe, target: target)
            #expect(changed == changes, "\(probe) on \(target)")
            #expect(health.up == after, "\(probe) on \(target)")
        }
    }

    @Test("a request goes to the first target up, then the next up not yet tried")
    func order() {
        var health = TargetHealth(targets: 4)
        #expect(health.first() == 0)
        health.record(.timeout, target: 0)
        health.record(.timeout, target: 2)
        #expect(health.first() == 1)
        #expect(health.next(after: 1, tried: [1]) == 3)
        #expect(health.next(after: 3, tried: [1, 3]) == nil)
        health.record(.timeout, target: 1)
        health.record(.timeout, target: 3)
        #expect(health.first() == nil)
    }

    @Test("503, timeouts and transport errors fail over; 4xx, other 5xx and 6xx do not",
          arguments: [(TargetHealth.AttemptOutcome.response(status: 503), true), (.timeout, true), (.transportError, true),
                      (.response(status: 403), false), (.response(status: 404), false), (.response(status: 488), false),
                      (.response(status: 500), false), (.response(status: 603), false)])
    func failover(outcome: TargetHealth.AttemptOutcome, expected: Bool) {
        #expect(TargetHealth.failsOver(outcome) == expected)
    }
}
