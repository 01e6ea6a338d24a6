/// The output of `tokens list` and `tokens create`.
enum TokenListView {
    static func render(_ tokens: [APIToken]) -> String {
        guard !tokens.isEmpty else { return "No tokens." }
        var table = TextTable(columns: [.init("ID"), .init("NAME"), .init("ROLE"), .init("TENANT"), .init("CREATED (UTC)")])
        for token in tokens {
            table.append([
                token.id ?? "-",
                token.name ?? "-",
                token.role ?? "-",
                token.tenant ?? "(all)",
                UTCTimestamp.display(token.createdAt),
            ])
        }
        return table.render()
    }

    /// The new token with its secret, which the server shows only this once.
    static func renderCreated(_ token: APIToken) -> String {
        let table = TextTable(columns: [.init(""), .init("")], rows: [
            ["ID", token.id ?? "-"],
            ["Name", token.name ?? "-"],
            ["Role", token.role ?? "-"],
            ["Tenant", token.tenant ?? "(all)"],
            ["Created", UTCTimestamp.display(token.createdAt)],
            ["Token", token.token ?? "(none in the reply)"],
        ], showsHeader: false)
        return table.render() + "\n\nThe token is shown only once: store it now (for siprecctl: SIPRECD_TOKEN or --token-file)."
    }
}
