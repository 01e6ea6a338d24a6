/// File sizes in binary units: `812 B`, `12.3 KiB`, `4.5 MiB`, `1.25 GiB`.
enum ByteCountText {
    static func binary(_ bytes: Int?) -> String {
        guard let bytes, bytes >= 0 else { return "-" }
        let kib = 1024.0
        let value = Double(bytes)
        if bytes < 1024 { return "\(bytes) B" }
        if value < kib * kib { return fixed(value / kib, digits: 1) + " KiB" }
        if value < kib * kib * kib { return fixed(value / (kib * kib), digits: 1) + " MiB" }
        return fixed(value / (kib * kib * kib), digits: 2) + " GiB"
    }

    /// A non-negative number with a fixed count of decimals, without locale effects.
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let negative = value < 0
        let scaled = Int((abs(value) * scale).rounded())
        let unit = Int(scale)
        var text = "\(scaled / unit)"
        if digits > 0 {
            let fraction = String(scaled % unit)
            text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
        }
        return negative && scaled != 0 ? "-" + text : text
    }
}
