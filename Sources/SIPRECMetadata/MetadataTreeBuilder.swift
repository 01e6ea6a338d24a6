import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// SAX delegate that turns one metadata document into a `MetadataElement` tree, enforcing the
/// depth and element-count limits as it goes (the parser is aborted at the first excess).
///
/// Documents with a DTD never get here (`RecordingMetadata.parse` refuses them first); the
/// declaration callbacks abort as a second line of defence.
final class MetadataTreeBuilder: NSObject, XMLParserDelegate {
    private let limits: MetadataLimits
    private var stack: [MetadataElement] = []
    private var elementCount = 0
    private(set) var root: MetadataElement?
    private(set) var failure: MetadataParseError?

    init(limits: MetadataLimits) {
        self.limits = limits
    }

    /// Parses `data` and returns the root element, or the first error.
    static func buildTree(from data: Data, limits: MetadataLimits) -> Result<MetadataElement, MetadataParseError> {
        let builder = MetadataTreeBuilder(limits: limits)
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.shouldReportNamespacePrefixes = false
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        let succeeded = parser.parse()
        if let failure = builder.failure { return .failure(failure) }
        // libxml2 may report an error and still return true (a truncated document), or recover.
        if !succeeded || parser.parserError != nil {
            return .failure(MetadataParseError(code: .malformedXML, line: parser.lineNumber > 0 ? parser.lineNumber : nil))
        }
        guard let root = builder.root, builder.stack.isEmpty else {
            return .failure(MetadataParseError(code: .malformedXML, line: nil))
        }
        return .success(root)
    }

    private func fail(_ code: MetadataParseError.Code, _ parser: XMLParser) {
        guard failure == nil else { return }
        failure = MetadataParseError(code: code, line: parser.lineNumber > 0 ? parser.lineNumber : nil)
        parser.abortParsing()
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        guard failure == nil else { return }
        elementCount += 1
        if elementCount > limits.maxElements { return fail(.tooManyElements, parser) }
        if stack.count + 1 > limits.maxDepth { return fail(.tooDeep, parser) }
        if stack.isEmpty && root != nil { return fail(.malformedXML, parser) }
        // Foundation hands attributes over as a dictionary: sort for a stable order.
        let attributes = attributeDict.sorted { $0.key < $1.key }.map { MetadataElement.Attribute(name: $0.key, value: $0.value) }
        stack.append(MetadataElement(name: elementName, namespace: namespaceURI ?? "", attributes: attributes))
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        guard failure == nil, let element = stack.popLast() else { return }
        if stack.isEmpty {
            root = element
        } else {
            stack[stack.count - 1].children.append(element)
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard failure == nil, !stack.isEmpty else { return }
        stack[stack.count - 1].text += string
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        guard failure == nil, !stack.isEmpty else { return }
        stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        guard failure == nil else { return }
        failure = MetadataParseError(code: .malformedXML, line: parser.lineNumber > 0 ? parser.lineNumber : nil)
    }

    func parser(_ parser: XMLParser, foundInternalEntityDeclarationWithName name: String, value: String?) {
        fail(.doctypeForbidden, parser)
    }

    func parser(_ parser: XMLParser, foundExternalEntityDeclarationWithName name: String, publicID: String?, systemID: String?) {
        fail(.doctypeForbidden, parser)
    }

    func parser(_ parser: XMLParser, foundUnparsedEntityDeclarationWithName name: String, publicID: String?,
                systemID: String?, notationName: String?) {
        fail(.doctypeForbidden, parser)
    }

    func parser(_ parser: XMLParser, foundElementDeclarationWithName elementName: String, model: String) {
        fail(.doctypeForbidden, parser)
    }
}
