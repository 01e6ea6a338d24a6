import Cluster
import Testing

@Suite struct NodeHealthTests {
    @Test func healthyByDefault() {
        let verdict = HealthVerdict.evaluate(HealthInputs())
        #expect(verdict.healthy)
        #expect(verdict.primary == nil)
        #expect(verdict.retryAfterSeconds == 0)
    }

    @Test func eachInputMakesItsOwnProblem() {
        var inputs = HealthInputs()
        inputs.recordsWritable = false
        #expect(HealthVerdict.evaluate(inputs).problems == [.recordsNotWritable])
        inputs = HealthInputs()
        inputs.spoolHealthy = false
        #expect(HealthVerdict.evaluate(inputs).problems == [.spoolUnhealthy])
        inputs = HealthInputs()
        inputs.archiveHasSpace = false
        #expect(HealthVerdict.evaluate(inputs).problems == [.archiveLowSpace])
        inputs = HealthInputs()
        inputs.activeCalls = 10
        inputs.maxCalls = 10
        #expect(HealthVerdict.evaluate(inputs).problems == [.atCapacity])
        inputs.activeCalls = 9
        #expect(HealthVerdict.evaluate(inputs).healthy)
        inputs = HealthInputs()
        inputs.freeMediaPorts = 0
        #expect(HealthVerdict.evaluate(inputs).problems == [.noMediaPorts])
    }

    @Test func drainingComesFirstAndAsksForTheLongestWait() {
        var inputs = HealthInputs()
        inputs.freeMediaPorts = 0
        inputs.draining = true
        inputs.spoolHealthy = false
        let verdict = HealthVerdict.evaluate(inputs)
        #expect(verdict.problems == [.draining, .spoolUnhealthy, .noMediaPorts])
        #expect(verdict.primary == .draining)
        #expect(verdict.retryAfterSeconds == HealthProblem.draining.retryAfterSeconds)
        #expect(HealthProblem.atCapacity.retryAfterSeconds < HealthProblem.spoolUnhealthy.retryAfterSeconds)
    }
}

@Suite struct DrainStateTests {
    @Test func firstSignalWithoutCallsFinishesAtOnce() {
        var drain = DrainState()
        #expect(drain.signal(now: 0, timeout: 60, activeCalls: 0) == [.startRefusing, .finish])
        #expect(drain.phase == .finished)
        #expect(drain.signal(now: 1, timeout: 60, activeCalls: 0) == [])
    }

    @Test func drainEndsWhenTheLastCallEnds() {
        var drain = DrainState()
        #expect(drain.signal(now: 100, timeout: 60, activeCalls: 2) == [.startRefusing])
        #expect(drain.isDraining)
        #expect(drain.callsChanged(activeCalls: 1) == .none)
        #expect(drain.tick(now: 159) == .none)
        #expect(drain.callsChanged(activeCalls: 0) == .finish)
        #expect(drain.phase == .finished)
        // Late events change nothing.
        #expect(drain.tick(now: 1000) == .none)
        #expect(drain.callsEnded() == .none)
    }

    @Test func timeoutEndsTheCallsThenFinishes() {
        var drain = DrainState()
        _ = drain.signal(now: 100, timeout: 60, activeCalls: 3)
        #expect(drain.tick(now: 160) == .endCalls(.drainTimeout))
        #expect(drain.phase == .endingCalls(reason: .drainTimeout))
        // The calls ending by the recorder's BYE do not finish before the BYEs are done.
        #expect(drain.callsChanged(activeCalls: 0) == .none)
        #expect(drain.callsEnded() == .finish)
        #expect(drain.callsEnded() == .none)
    }

    @Test func secondSignalEndsTheCallsNow() {
        var drain = DrainState()
        _ = drain.signal(now: 0, timeout: 900, activeCalls: 1)
        #expect(drain.signal(now: 5, timeout: 900, activeCalls: 1) == [.endCalls(.secondSignal)])
        #expect(drain.tick(now: 2000) == .none)
        #expect(drain.signal(now: 6, timeout: 900, activeCalls: 1) == [])
        #expect(drain.callsEnded() == .finish)
    }
}
