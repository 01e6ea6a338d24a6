import ArgumentParser

/// `--source` of `list`: how the recording came in.
enum RecordingSource: String, CaseIterable, Sendable, ExpressibleByArgument {
    case siprec
    case cucmBib = "cucm-bib"
    case cubeNbr = "cube-nbr"
    case plain
}
