/// The list envelope of the API: `{"items":[...],"nextCursor":"..."|null}` (no cursor on
/// the lists that are not paged).
struct ItemPage<Item: Decodable & Sendable>: Decodable, Sendable {
    var items: [Item]
    var nextCursor: String?

    private enum CodingKeys: String, CodingKey {
        case items, nextCursor
    }

    init(items: [Item], nextCursor: String? = nil) {
        self.items = items
        self.nextCursor = nextCursor
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        items = try container.decodeIfPresent([Item].self, forKey: .items) ?? []
        let cursor = try container.decodeIfPresent(String.self, forKey: .nextCursor)
        nextCursor = cursor?.isEmpty == true ? nil : cursor
    }
}
