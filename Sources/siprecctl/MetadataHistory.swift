/// `GET /api/v1/recordings/{id}/metadata`: every metadata document the SRC sent.
struct MetadataHistory: Decodable, Sendable {
    struct Version: Decodable, Sendable {
        var receivedAt: String?
        var method: String?
        var dataMode: String?
        var dialect: String?
        var error: String?
        var xml: String?
    }

    var recordingId: String?
    var versions: [Version]?
    /// Versions between the first and the kept latest ones that the server let go.
    var dropped: Int?
}
