import ArgumentParser

/// `--role` of `tokens create`.
enum TokenRole: String, CaseIterable, Sendable, ExpressibleByArgument {
    case admin, supervisor, auditor
}
