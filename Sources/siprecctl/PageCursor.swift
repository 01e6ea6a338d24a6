/// Only the `nextCursor` of a page: what `list --all --json` needs to follow the pages
/// without reading (or depending on the shape of) the items.
struct PageCursor: Decodable, Sendable, Equatable {
    var nextCursor: String?

    private enum CodingKeys: String, CodingKey {
        case nextCursor
    }

    init(nextCursor: String?) {
        self.nextCursor = nextCursor
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let cursor = try container.decodeIfPresent(String.self, forKey: .nextCursor)
        nextCursor = cursor?.isEmpty == true ? nil : cursor
    }
}
