import ArgumentParser

/// `--state` of `list`.
enum RecordingState: String, CaseIterable, Sendable, ExpressibleByArgument {
    case active, completed, recovered, failed
}
