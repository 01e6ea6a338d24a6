import Foundation
import Hummingbird

/// The web page's files, shipped as the AdminAPI target's resources.
enum WebAssets {
    static let names: Set<String> = ["index.html", "app.js", "style.css"]

    static func response(for name: String) throws -> Response {
        guard names.contains(name), let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Web")
                ?? Bundle.module.url(forResource: (name as NSString).deletingPathExtension, withExtension: (name as NSString).pathExtension),
              let data = try? Data(contentsOf: url) else {
            throw Problem.notFound("no such page")
        }
        var headers = HTTPFields()
        headers[.contentType] = name.hasSuffix(".html") ? "text/html; charset=utf-8" : name.hasSuffix(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
