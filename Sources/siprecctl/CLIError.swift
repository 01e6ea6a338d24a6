/// Every way a command fails, with the line printed on standard error (after "siprecctl: ")
/// and the exit status.
enum CLIError: Error, Sendable, Equatable {
    /// The server answered with an error status.
    case problem(Problem, hint: String?)
    /// No answer: refused, unknown host, timeout, TLS failure.
    case connection(String)
    /// An answer this client cannot read.
    case badResponse(String)
    /// Bad options or local files (token file, output file).
    case usage(String)
    case local(String)
    /// Nothing to print: the command already said what it had to (`health` when not ready).
    case silent(Int32)

    var message: String? {
        switch self {
        case .problem(let problem, let hint):
            return problem.message + (hint.map { "\nsiprecctl: hint: " + $0 } ?? "")
        case .connection(let text), .badResponse(let text), .usage(let text), .local(let text):
            return text
        case .silent:
            return nil
        }
    }

    var exitCode: Int32 {
        switch self {
        case .problem(let problem, _):
            return Problem.exitCode(forStatus: problem.status ?? 0)
        case .connection, .badResponse, .usage, .local:
            return 1
        case .silent(let code):
            return code
        }
    }
}
