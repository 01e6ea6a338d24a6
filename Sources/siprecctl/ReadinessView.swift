/// The output of `health`: `ready` / `not ready`, then each check.
enum ReadinessView {
    static func render(_ readiness: Readiness?, ready: Bool, httpStatus: Int) -> String {
        var lines = [ready ? "ready" : "not ready (HTTP \(httpStatus))"]
        if !ready, let detail = readiness?.detail, !detail.isEmpty { lines.append(detail) }
        if let checks = readiness?.checks, !checks.isEmpty {
            let rows = checks.keys.sorted().map { ["  " + $0, checks[$0] ?? ""] }
            lines.append(TextTable(columns: [.init(""), .init("")], rows: rows, showsHeader: false).render())
        }
        return lines.joined(separator: "\n")
    }
}
