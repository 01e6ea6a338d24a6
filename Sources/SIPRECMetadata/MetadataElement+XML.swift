extension MetadataElement {
    /// The element as a self-contained XML fragment: every element whose namespace differs from
    /// its parent's declares it with `xmlns="…"`, so the fragment reads the same wherever it is
    /// stored. Prefixes are not kept (the names and namespaces are); white-space-only text between
    /// child elements is dropped.
    public var xml: String {
        var out = ""
        write(to: &out, parentNamespace: nil)
        return out
    }

    private func write(to out: inout String, parentNamespace: String?) {
        out += "<" + name
        if namespace != (parentNamespace ?? "") {
            out += " xmlns=\"" + MetadataElement.escape(namespace, attribute: true) + "\""
        }
        for attribute in attributes {
            // A prefix other than xml: would be unbound in the fragment: keep the local name.
            let name = attribute.name.hasPrefix("xml:") ? attribute.name : attribute.localName
            out += " " + name + "=\"" + MetadataElement.escape(attribute.value, attribute: true) + "\""
        }
        let content = children.isEmpty ? text : (trimmedText ?? "")
        if content.isEmpty && children.isEmpty {
            out += "/>"
            return
        }
        out += ">" + MetadataElement.escape(content, attribute: false)
        for child in children {
            child.write(to: &out, parentNamespace: namespace)
        }
        out += "</" + name + ">"
    }

    static func escape(_ text: String, attribute: Bool) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where attribute: out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
