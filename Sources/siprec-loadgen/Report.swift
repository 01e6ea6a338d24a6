import Foundation

/// The outcome of a run, as a human summary or one JSON object.
struct RunSummary {
    var plan: CallPlan
    var engine: EngineResults
    var rtp: RTPSender.Stats
    var verification: Verifier.Report?
    var cpu: (user: Double, system: Double)

    var callsCompleted: Int {
        engine.outcomes.filter { $0.setupFailure == nil && $0.callFailure == nil }.count
    }

    /// Success: every call set up and ended cleanly and, when verifying, every recording passed.
    var succeeded: Bool {
        guard engine.setupFailures.isEmpty, engine.callFailures.isEmpty, engine.callsPlaced == plan.calls else { return false }
        guard let verification else { return true }
        return verification.recordingsVerified == plan.calls
    }

    var json: String {
        var object: [String: Any] = [
            "mode": plan.mode.rawValue,
            "srtp": plan.srtp?.name ?? NSNull(),
            "protectErrors": rtp.protectErrors,
            "callsPlaced": engine.callsPlaced,
            "callsCompleted": callsCompleted,
            "setupFailures": engine.setupFailures,
            "callFailures": engine.callFailures,
            "streamsRefused": engine.streamsRefused,
            "packetsSent": rtp.packets,
            "sendErrors": rtp.sendErrors,
            "lateTicks": rtp.lateTicks,
            "skippedTicks": rtp.skippedTicks,
            "ticks": rtp.ticks,
            "maxTickLatenessMs": rounded(rtp.maxLatenessMs),
            "peakStreams": rtp.peakStreams,
            "elapsedSeconds": rounded(engine.elapsed),
            "cpuUserSeconds": rounded(cpu.user),
            "cpuSystemSeconds": rounded(cpu.system),
            "success": succeeded,
            "failovers": engine.failovers,
            "callsFailedOver": engine.callsFailedOver,
            "strayAnswersEnded": engine.strayAnswersEnded,
            "targets": engine.targets.map { stats -> [String: Any] in
                ["target": stats.target.description, "attempts": stats.attempts, "callsAnswered": stats.callsAnswered,
                 "failoversFrom": stats.failoversFrom, "markedDown": stats.markedDown, "upAtEnd": stats.up]
            },
        ]
        if let verification {
            object["recordingsFound"] = verification.recordingsFound
            object["recordingsVerified"] = verification.recordingsVerified
            object["verifyFailures"] = verification.failures
            object["worstAlignmentOffsetMs"] = verification.worstAlignmentOffsetMs.map(rounded) ?? NSNull()
            object["worstChannelSkewMs"] = verification.worstChannelSkewMs.map(rounded) ?? NSNull()
        } else {
            for key in ["recordingsFound", "recordingsVerified", "verifyFailures", "worstAlignmentOffsetMs"] { object[key] = NSNull() }
        }
        return jsonText(object)
    }

    var text: String {
        var lines = [
            "siprec-loadgen: \(plan.calls) \(plan.mode.rawValue) call(s) to \(plan.targets.map(\.description).joined(separator: ", ")) at \(plan.rate)/s, \(plan.duration) s each"
                + (plan.srtp.map { ", SRTP \($0.name)" } ?? ""),
            "  calls placed      \(engine.callsPlaced), completed \(callsCompleted) in \(String(format: "%.1f", engine.elapsed)) s",
            "  setup failures    \(describe(engine.setupFailures))",
            "  call failures     \(describe(engine.callFailures))",
            "  streams refused   \(engine.streamsRefused)",
            "  RTP               \(rtp.packets) packets (peak \(rtp.peakStreams) streams), \(rtp.sendErrors) send errors"
                + (plan.srtp != nil ? ", \(rtp.protectErrors) protect errors" : ""),
            "  ticks             \(rtp.ticks), late \(rtp.lateTicks) (worst \(String(format: "%.1f", rtp.maxLatenessMs)) ms), skipped \(rtp.skippedTicks)",
            String(format: "  CPU               %.2f s user, %.2f s system", cpu.user, cpu.system),
        ]
        if plan.targets.count > 1 || engine.failovers > 0 {
            lines.append("  failovers         \(engine.failovers) (\(engine.callsFailedOver) calls)"
                + (engine.strayAnswersEnded > 0 ? ", \(engine.strayAnswersEnded) late answers hung up" : ""))
            for stats in engine.targets {
                lines.append("  target \(stats.target): answered \(stats.callsAnswered), attempts \(stats.attempts), failed over from \(stats.failoversFrom), "
                    + "marked down \(stats.markedDown)x, \(stats.up ? "up" : "down") at end")
            }
        }
        if let verification {
            lines.append("  recordings        \(verification.recordingsFound) found, \(verification.recordingsVerified) verified")
            lines.append("  verify failures   \(describe(verification.failures))")
            if let offset = verification.worstAlignmentOffsetMs {
                lines.append(String(format: "  alignment         worst first-gap offset %+.1f ms, worst channel skew %.1f ms",
                                    offset, verification.worstChannelSkewMs ?? 0))
            }
            for example in verification.examples { lines.append("    \(example)") }
        }
        lines.append(succeeded ? "  result            OK" : "  result            FAILED")
        return lines.joined(separator: "\n")
    }
}

func describe(_ counts: [String: Int]) -> String {
    counts.isEmpty ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
}

func rounded(_ value: Double) -> Double {
    (value * 1000).rounded() / 1000
}

func jsonText(_ object: [String: Any]) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}
