/// Durations as people read them on a call list: `m:ss` (minutes are not wrapped into
/// hours, so 75 minutes is `75:00`).
enum DurationText {
    /// `m:ss` of whole seconds, rounded to the nearest second; "-" when unknown.
    static func minutesSeconds(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "-" }
        let whole = Int(seconds.rounded())
        return minutesSeconds(whole: whole)
    }

    static func minutesSeconds(whole: Int) -> String {
        let total = max(0, whole)
        let minutes = total / 60
        let rest = total % 60
        return "\(minutes):" + (rest < 10 ? "0\(rest)" : "\(rest)")
    }

    /// `m:ss.t` for events placed inside a recording (DTMF), tenths of a second.
    static func minutesSecondsTenths(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "-" }
        let tenths = Int((seconds * 10).rounded())
        return minutesSeconds(whole: tenths / 10) + ".\(tenths % 10)"
    }
}
