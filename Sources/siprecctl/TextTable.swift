/// A plain-text table: column widths come from the content, a header row on top, cells
/// separated by two spaces, numbers right-aligned. Pure: `render()` only builds a string.
struct TextTable: Sendable, Equatable {
    enum Alignment: Sendable, Equatable {
        case left
        case right
    }

    struct Column: Sendable, Equatable {
        var title: String
        var alignment: Alignment
        /// Cells longer than this are cut and end with "…" (nil: never cut).
        var maxWidth: Int?

        init(_ title: String, alignment: Alignment = .left, maxWidth: Int? = nil) {
            self.title = title
            self.alignment = alignment
            self.maxWidth = maxWidth
        }

        static func number(_ title: String) -> Column {
            Column(title, alignment: .right)
        }
    }

    var columns: [Column]
    var rows: [[String]] = []
    /// False for key/value listings that need no header row.
    var showsHeader = true
    /// Put before every line (for tables nested under a section title).
    var indent = ""
    var separator = "  "

    init(columns: [Column], rows: [[String]] = [], showsHeader: Bool = true, indent: String = "") {
        self.columns = columns
        self.rows = rows
        self.showsHeader = showsHeader
        self.indent = indent
    }

    mutating func append(_ row: [String]) {
        rows.append(row)
    }

    /// The table as lines joined by "\n", without a final newline (empty when there is
    /// nothing to show: no rows and no header).
    func render() -> String {
        guard !columns.isEmpty else { return "" }
        var lines: [[String]] = []
        if showsHeader { lines.append(columns.map(\.title)) }
        for row in rows {
            var cells: [String] = []
            cells.reserveCapacity(columns.count)
            for (index, column) in columns.enumerated() {
                let raw = index < row.count ? row[index] : ""
                cells.append(Self.clip(Self.singleLine(raw), to: column.maxWidth))
            }
            lines.append(cells)
        }
        guard !lines.isEmpty else { return "" }

        var widths = [Int](repeating: 0, count: columns.count)
        for cells in lines {
            for (index, cell) in cells.enumerated() { widths[index] = max(widths[index], cell.count) }
        }

        var output: [String] = []
        output.reserveCapacity(lines.count)
        for cells in lines {
            var line = indent
            for (index, cell) in cells.enumerated() {
                if index > 0 { line += separator }
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                // Headers of number columns line up with the numbers under them.
                if columns[index].alignment == .right {
                    line += padding + cell
                } else {
                    line += cell + padding
                }
            }
            output.append(Self.trimmingTrailingSpaces(line))
        }
        return output.joined(separator: "\n")
    }

    /// Cells never break the grid: control characters (newlines, tabs) become spaces.
    static func singleLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map {
            $0.properties.generalCategory == .control ? " " : $0
        }))
    }

    static func clip(_ text: String, to width: Int?) -> String {
        guard let width, width > 0, text.count > width else { return text }
        return String(text.prefix(width - 1)) + "…"
    }

    private static func trimmingTrailingSpaces(_ line: String) -> String {
        var end = line.endIndex
        while end > line.startIndex, line[line.index(before: end)] == " " { end = line.index(before: end) }
        return String(line[..<end])
    }
}
