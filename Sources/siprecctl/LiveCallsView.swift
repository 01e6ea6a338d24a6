import Foundation

/// The table of `calls`: one row per live call, stream counters summed.
enum LiveCallsView {
    static func render(_ calls: [LiveCall], now: Date) -> String {
        guard !calls.isEmpty else { return "No live calls." }
        var table = TextTable(columns: [
            .init("RECORDING"),
            .init("STARTED (UTC)"),
            .number("ELAPSED"),
            .init("STATE"),
            .init("SOURCE"),
            .init("TENANT"),
            .init("PARTICIPANTS", maxWidth: 40),
            .init("CODECS"),
            .number("STREAMS"),
            .number("PACKETS"),
            .number("LOST"),
            .number("LOSS"),
            .number("JITTER"),
        ])
        for call in calls {
            let streams = call.streams ?? []
            let packets = streams.reduce(0) { $0 + ($1.packets ?? 0) }
            let lost = streams.reduce(0) { $0 + max(0, $1.lost ?? 0) }
            let jitter = streams.compactMap(\.jitterMs).max()
            var codecs: [String] = []
            for codec in streams.compactMap(\.codec) where !codecs.contains(codec) { codecs.append(codec) }
            let elapsed = call.startedAt.flatMap(UTCTimestamp.parse).map { now.timeIntervalSince($0) }
            table.append([
                call.recordingId ?? "-",
                UTCTimestamp.display(call.startedAt),
                DurationText.minutesSeconds(elapsed.map { max(0, $0) }),
                call.paused == true ? "paused" : "recording",
                call.source ?? "-",
                call.tenant ?? "-",
                Participant.summary(call.participants),
                codecs.isEmpty ? "-" : codecs.joined(separator: ","),
                String(streams.count),
                String(packets),
                String(lost),
                StreamStatistics.lossPercent(packets: packets, lost: lost),
                StreamStatistics.jitter(jitter),
            ])
        }
        return table.render()
    }
}
