/// The readable summary of `show`: ids and times, participants, streams with their packet
/// counters, the file(s) with SHA-256, then dialogs, changes, DTMF and problems when present.
enum RecordingDetailView {
    static func render(_ detail: RecordingDetail) -> String {
        let summary = detail.summary
        let record = detail.record
        var sections: [String] = []

        var facts: [[String]] = []
        func fact(_ label: String, _ value: String?) {
            guard let value, !value.isEmpty else { return }
            facts.append([label, value])
        }
        fact("Recording", summary.id ?? record?.recordingID)
        var interaction = summary.interactionId
        if let segment = summary.segment { interaction = (interaction ?? "-") + "  (segment \(segment))" }
        fact("Interaction", interaction)
        fact("Previous", record?.previousRecordingID)
        fact("State", summary.state)
        fact("Source", summary.source)
        fact("SRC address", summary.srcAddress)
        fact("Tenant", summary.tenant)
        fact("Started", summary.startedAt.map { UTCTimestamp.display($0) + " UTC" })
        fact("Ended", summary.endedAt.map { UTCTimestamp.display($0) + " UTC" })
        if summary.durationSeconds != nil { fact("Duration", DurationText.minutesSeconds(summary.durationSeconds)) }
        for (index, callID) in (summary.callIds ?? []).enumerated() { fact(index == 0 ? "Call-ID" : "", callID) }
        for (index, sessionID) in (record?.sessionIDs ?? []).enumerated() { fact(index == 0 ? "Session ID" : "", sessionID) }
        fact("Group ID", record?.groupID)
        for (index, pair) in (record?.vendorIDs?.labelled ?? []).enumerated() {
            fact(index == 0 ? "Vendor IDs" : "", "\(pair.label) \(pair.value)")
        }
        sections.append(TextTable(columns: [.init(""), .init("")], rows: facts, showsHeader: false).render())

        sections.append(participants(summary: summary, record: record))
        if let streams = record?.streams, !streams.isEmpty { sections.append(self.streams(streams)) }
        sections.append(files(summary: summary, record: record))
        if let dialogs = record?.dialogs, !dialogs.isEmpty { sections.append(self.dialogs(dialogs)) }
        if let changes = record?.changes, !changes.isEmpty { sections.append(self.changes(changes)) }
        if let dtmf = record?.dtmf, !dtmf.isEmpty { sections.append(self.dtmf(dtmf)) }
        if let versions = record?.metadataVersions, !versions.isEmpty {
            var line = "Metadata: \(versions.count) version\(versions.count == 1 ? "" : "s")"
            if let dropped = record?.metadataVersionsDropped, dropped > 0 { line += " (\(dropped) more not kept)" }
            sections.append(line + " (siprecctl metadata \(summary.id ?? "ID"))")
        }
        if let problems = record?.problems, !problems.isEmpty {
            sections.append((["Problems"] + problems.map { "  - " + TextTable.singleLine($0) }).joined(separator: "\n"))
        }
        return sections.joined(separator: "\n\n")
    }

    private static func participants(summary: RecordingSummary, record: JournalRecord?) -> String {
        // The record knows what each party sends and receives; the summary only who they are.
        if let parties = record?.participants, !parties.isEmpty {
            var table = TextTable(columns: [.init("ROLE"), .init("NAME"), .init("AOR"), .init("SENDS"), .init("RECEIVES")],
                                  indent: "  ")
            for party in parties {
                table.append([
                    party.role ?? "-",
                    party.name ?? "-",
                    party.aor ?? "-",
                    list(party.sends),
                    list(party.receives),
                ])
            }
            return "Participants\n" + table.render()
        }
        guard let parties = summary.participants, !parties.isEmpty else { return "Participants: none known" }
        var table = TextTable(columns: [.init("ROLE"), .init("NAME"), .init("AOR")], indent: "  ")
        for party in parties { table.append([party.role ?? "-", party.name ?? "-", party.aor ?? "-"]) }
        return "Participants\n" + table.render()
    }

    private static func streams(_ streams: [JournalRecord.Stream]) -> String {
        var table = TextTable(columns: [
            .init("ID"), .init("LABEL"), .init("CODEC"), .init("SRTP"), .init("STATE"), .number("CH"),
            .number("PACKETS"), .number("LOST"), .number("LOSS"), .number("LATE"), .number("JITTER"),
        ], indent: "  ")
        for stream in streams {
            let quality = stream.quality
            let srtp: String
            if let suite = stream.srtpSuite, !suite.isEmpty {
                srtp = suite
            } else {
                srtp = stream.srtp == true ? "yes" : "no"
            }
            table.append([
                stream.id ?? "-",
                stream.label ?? "-",
                stream.codec ?? "-",
                srtp,
                stream.state ?? "-",
                stream.channel.map(String.init) ?? "-",
                quality?.packets.map(String.init) ?? "-",
                quality?.lost.map(String.init) ?? "-",
                quality == nil ? "-" : StreamStatistics.lossPercent(packets: quality?.packets, lost: quality?.lost),
                quality?.late.map(String.init) ?? "-",
                StreamStatistics.jitter(quality?.jitterMs),
            ])
        }
        var text = "Streams\n" + table.render()
        let notes = streams.compactMap { stream -> String? in
            var parts: [String] = []
            if let failures = stream.quality?.srtpFailures, failures > 0 { parts.append("\(failures) SRTP failures") }
            if let undecodable = stream.quality?.undecodable, undecodable > 0 { parts.append("\(undecodable) undecodable") }
            if let codecs = stream.quality?.notDecoded, !codecs.isEmpty {
                parts.append("not decoded: " + codecs.joined(separator: ", "))
            }
            return parts.isEmpty ? nil : "  stream \(stream.id ?? "?"): " + parts.joined(separator: "; ")
        }
        if !notes.isEmpty { text += "\n" + notes.joined(separator: "\n") }
        return text
    }

    private static func files(summary: RecordingSummary, record: JournalRecord?) -> String {
        if let perStream = record?.files, !perStream.isEmpty {
            var table = TextTable(columns: [
                .number("INDEX"), .number("CH"), .init("FORMAT"), .number("AUDIO"), .number("SIZE"),
                .init("LOCATION"), .init("SHA-256"),
            ], indent: "  ")
            for (index, file) in perStream.enumerated() {
                table.append([
                    String(index),
                    file.channel.map(String.init) ?? "-",
                    file.format ?? "-",
                    DurationText.minutesSeconds(file.audioSeconds),
                    ByteCountText.binary(file.bytes),
                    file.location ?? "-",
                    file.sha256 ?? "-",
                ])
            }
            return "Files (one per stream; download --file-index N)\n" + table.render()
        }
        let recorded = record?.file
        guard summary.file != nil || recorded != nil else { return "File: none yet" }
        let file = summary.file
        var rows: [[String]] = []
        var format = file?.format ?? recorded?.format ?? "-"
        if let channels = file?.channels ?? recorded?.channels {
            format += ", \(channels) channel\(channels == 1 ? "" : "s")"
            if let roles = recorded?.channelRoles, !roles.isEmpty { format += " (" + roles.joined(separator: ", ") + ")" }
        }
        if let rate = recorded?.sampleRate { format += ", \(rate) Hz" }
        rows.append(["  Format", format])
        if let seconds = file?.audioSeconds ?? recorded?.audioSeconds {
            rows.append(["  Audio", DurationText.minutesSeconds(seconds)])
        }
        if let bytes = file?.bytes ?? recorded?.bytes {
            rows.append(["  Size", ByteCountText.binary(bytes) + (bytes >= 1024 ? " (\(bytes) bytes)" : "")])
        }
        rows.append(["  Location", file?.location ?? recorded?.location ?? "-"])
        if let path = recorded?.path { rows.append(["  Path", path]) }
        rows.append(["  SHA-256", file?.sha256 ?? recorded?.sha256 ?? "- (not computed yet)"])
        return "File\n" + TextTable(columns: [.init(""), .init("")], rows: rows, showsHeader: false).render()
    }

    private static func dialogs(_ dialogs: [JournalRecord.Dialog]) -> String {
        var table = TextTable(columns: [
            .init("CALL-ID"), .init("LEG"), .init("FROM"), .init("TRANSPORT"), .init("STARTED (UTC)"),
            .init("ENDED (UTC)"), .init("END REASON"),
        ], indent: "  ")
        for dialog in dialogs {
            table.append([
                dialog.callID ?? "-",
                dialog.leg ?? "-",
                dialog.source ?? "-",
                dialog.transport ?? "-",
                UTCTimestamp.display(dialog.startedAt),
                UTCTimestamp.display(dialog.endedAt),
                dialog.endReason ?? "-",
            ])
        }
        return "Dialogs\n" + table.render()
    }

    private static func changes(_ changes: [JournalRecord.Change]) -> String {
        var table = TextTable(columns: [.init("AT (UTC)"), .init("METHOD"), .init("WHAT")], indent: "  ")
        for change in changes {
            table.append([UTCTimestamp.display(change.at), change.method ?? "-", list(change.what)])
        }
        return "Changes\n" + table.render()
    }

    private static func dtmf(_ events: [JournalRecord.DTMF]) -> String {
        var table = TextTable(columns: [.number("AT"), .init("STREAM"), .init("EVENT"), .number("DURATION")], indent: "  ")
        for event in events {
            table.append([
                DurationText.minutesSecondsTenths(event.at),
                event.stream ?? "-",
                event.event ?? "-",
                event.durationMs.map { "\($0) ms" } ?? "-",
            ])
        }
        return "DTMF\n" + table.render()
    }

    private static func list(_ values: [String]?) -> String {
        guard let values, !values.isEmpty else { return "-" }
        return values.joined(separator: ", ")
    }
}
