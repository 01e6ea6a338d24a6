import Foundation

/// Writes the API's JSON bodies (dictionaries, arrays, strings, numbers, booleans and nulls, as
/// built by `RecordingJSON` or read back by `JSONSerialization`) straight to UTF-8.
///
/// Foundation's `JSONSerialization.data(withJSONObject:options: .sortedKeys)` bridges every
/// dictionary to `NSDictionary` and sorts keys with locale-aware `NSString` comparison: on a
/// 50-row list page that was four fifths of the request's CPU (`perf`, `bench/catalog-list.sh`).
/// Here keys are sorted by their UTF-8 bytes (a stable order, which is all clients may rely on),
/// and `/` is not escaped.
enum JSONBody {
    static func encode(_ value: Any) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(value, into: &out)
        return out
    }

    static func write(_ value: Any, into out: inout [UInt8]) {
        let kind = type(of: value)
        if kind == String.self {
            writeString(value as! String, into: &out)
        } else if kind == Int.self {
            out.append(contentsOf: String(value as! Int).utf8)
        } else if kind == Bool.self {
            out.append(contentsOf: (value as! Bool) ? Array("true".utf8) : Array("false".utf8))
        } else if kind == Double.self {
            writeDouble(value as! Double, into: &out)
        } else if let dictionary = value as? [String: Any] {
            out.append(UInt8(ascii: "{"))
            var first = true
            for key in dictionary.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(dictionary[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        } else if let array = value as? [Any] {
            out.append(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        } else if value is NSNull {
            out.append(contentsOf: "null".utf8)
        } else if let number = value as? NSNumber {
            // Numbers read back by JSONSerialization (a stored record).
            if String(cString: number.objCType) == "c" {
                out.append(contentsOf: number.boolValue ? Array("true".utf8) : Array("false".utf8))
            } else {
                writeDouble(number.doubleValue, into: &out)
            }
        } else if let integer = value as? any BinaryInteger {
            out.append(contentsOf: String(describing: integer).utf8)
        } else if let text = value as? Substring {
            writeString(String(text), into: &out)
        } else if let mirror = Optional(Mirror(reflecting: value)), mirror.displayStyle == .optional {
            if let wrapped = mirror.children.first?.value { write(wrapped, into: &out) } else { out.append(contentsOf: "null".utf8) }
        } else {
            writeString(String(describing: value), into: &out)
        }
    }

    static func writeDouble(_ value: Double, into out: inout [UInt8]) {
        guard value.isFinite else {
            out.append(contentsOf: "null".utf8)
            return
        }
        if value == value.rounded(), abs(value) < 1e15 {
            out.append(contentsOf: String(Int64(value)).utf8)
        } else {
            out.append(contentsOf: "\(value)".utf8)
        }
    }

    static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                        hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
