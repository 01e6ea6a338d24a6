import NIOCore
import SDP
import SIPCore

/// The parts of a recording request's body siprecd reads: the SDP (plain `application/sdp` or
/// the SDP part of a multipart body) and the RFC 7865 metadata (a multipart part, or the whole
/// body of a metadata-only UPDATE). Other parts (Cisco's `application/gtd`, …) are ignored.
struct SessionBody {
    var sdp: SessionDescription?
    var metadata: ByteBuffer?
    /// Cisco's `application/gtd` part (its GCI names the call), when CUBE sends one.
    var gtd: String?

    /// Why a body cannot be used at all; the request gets `status` with a Warning.
    struct Rejection: Error, Equatable {
        var status: Int
        var warning: String
    }

    static let metadataTypes: Set<String> = ["application/rs-metadata+xml", "application/rs-metadata"]

    /// Empty when the request has no body (delayed offer, or an update without changes).
    static func parse(_ request: SIPRequest) -> Result<SessionBody, Rejection> {
        guard let body = request.body, body.readableBytes > 0 else { return .success(SessionBody()) }
        let contentType = request.contentType ?? "application/sdp"
        let essence = MediaType.essence(contentType)
        var result = SessionBody()
        var sdpBytes: ByteBuffer?
        if essence == "application/sdp" {
            sdpBytes = body
        } else if metadataTypes.contains(essence) {
            // RFC 7866 §7.1.2: a metadata-only update may carry the metadata as the whole body.
            result.metadata = body
        } else if essence.hasPrefix("multipart/") {
            guard let parts = try? MultipartBody.split(body, contentType: contentType) else {
                return .failure(Rejection(status: 400, warning: "multipart body could not be split"))
            }
            sdpBytes = parts.first { $0.mediaType == "application/sdp" }?.body
            result.metadata = parts.first { metadataTypes.contains($0.mediaType) }?.body
            result.gtd = parts.first { $0.mediaType == "application/gtd" }.map { String(buffer: $0.body) }
            if sdpBytes == nil, result.metadata == nil {
                return .failure(Rejection(status: 415, warning: "no application/sdp or rs-metadata part"))
            }
        } else {
            return .failure(Rejection(status: 415, warning: "unsupported body type"))
        }
        if let bytes = sdpBytes {
            guard let sdp = try? SessionDescription(parsing: String(buffer: bytes)) else {
                return .failure(Rejection(status: 488, warning: "SDP could not be parsed"))
            }
            result.sdp = sdp
        }
        return .success(result)
    }
}
