/// The table of `list`.
enum RecordingListView {
    static func table(_ recordings: [RecordingSummary]) -> TextTable {
        var table = TextTable(columns: [
            .init("ID"),
            .init("STARTED (UTC)"),
            .number("DURATION"),
            .init("STATE"),
            .init("SOURCE"),
            .init("TENANT"),
            .init("PARTICIPANTS", maxWidth: 48),
            .number("SIZE"),
        ])
        for recording in recordings {
            table.append([
                recording.id ?? "-",
                UTCTimestamp.display(recording.startedAt),
                DurationText.minutesSeconds(recording.durationSeconds ?? recording.file?.audioSeconds),
                recording.state ?? "-",
                recording.source ?? "-",
                recording.tenant ?? "-",
                Participant.summary(recording.participants),
                recording.file.map { ByteCountText.binary($0.bytes) } ?? "-",
            ])
        }
        return table
    }

    static func render(_ recordings: [RecordingSummary]) -> String {
        recordings.isEmpty ? "No recordings." : table(recordings).render()
    }
}
