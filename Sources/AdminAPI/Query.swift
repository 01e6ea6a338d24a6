import Catalog
import Foundation
import Hummingbird

/// Query parameters, each checked: a bad value is a 400 problem naming the parameter.
struct Query {
    let parameters: [String: String]

    init(_ request: Request) throws {
        var parameters: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard parameters[name] == nil else { throw Problem.invalid(name, "given more than once") }
            parameters[name] = String(value)
        }
        self.parameters = parameters
    }

    func string(_ name: String, maxLength: Int = 1024) throws -> String? {
        guard let value = parameters[name] else { return nil }
        guard !value.isEmpty else { throw Problem.invalid(name, "must not be empty") }
        guard value.utf8.count <= maxLength else { throw Problem.invalid(name, "longer than \(maxLength) bytes") }
        return value
    }

    func integer(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = parameters[name] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw Problem.invalid(name, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func date(_ name: String) throws -> Date? {
        guard let text = try string(name, maxLength: 64) else { return nil }
        guard let date = CatalogDate.parse(text) else {
            throw Problem.invalid(name, "must be an RFC 3339 date-time such as 2026-11-30T09:00:00Z")
        }
        return date
    }

    func oneOf(_ name: String, _ values: [String]) throws -> String? {
        guard let text = try string(name, maxLength: 64) else { return nil }
        guard values.contains(text) else { throw Problem.invalid(name, "must be one of \(values.joined(separator: ", "))") }
        return text
    }
}
