/// The page around every console view: head (one stylesheet, one deferred script, no inline code), navigation,
/// sign-out and the time zone the page's times are in.
struct Page {
    var title: String
    var body: String
    /// Reloads itself every 5 s (the problems page: no script needed).
    var refreshes = false
    var signedIn = true
    var active: Section? = nil

    enum Section: String { case fleet, problems, report }

    func render(_ formatting: Formatting, now: Int64) -> String {
        let links: [(Section, String, String)] = [
            (.fleet, "/", "Fleet"), (.problems, "/problems", "Problems"), (.report, "/report", "Report"),
        ]
        let navigation =
            signedIn
            ? "<nav>"
                + links.map { section, href, label in
                    "<a href=\"\(href)\"\(section == active ? " aria-current=\"page\"" : "")>\(label)</a>"
                }.joined()
                + "</nav><form class=\"sign-out\" method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form>"
            : ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            \(refreshes ? "<meta http-equiv=\"refresh\" content=\"5\">\n" : "")\
            <title>\(HTML.escape(title)) · Tram console</title>
            <link rel="icon" href="data:,">
            <link rel="stylesheet" href="/static/console.css">
            <script src="/static/console.js" defer></script>
            </head><body>
            <header class="top"><a class="brand" href="/">Tram console</a>\(navigation)</header>
            <main>
            \(body)
            </main>
            <footer>Times in <span id="time-zone">\(HTML.escape(formatting.zoneName))</span> \
            (\(formatting.offsetText(at: now))) · page made \(formatting.dateTime(now))</footer>
            </body></html>

            """
    }
}

/// `<time>` with the instant in its `datetime` (UTC, ISO 8601) and the local text.
func timeElement(_ milliseconds: Int64, _ formatting: Formatting, seconds: Bool = true) -> String {
    "<time data-ms=\"\(milliseconds)\">\(formatting.dateTime(milliseconds, seconds: seconds))</time>"
}

/// A table cell with the label the narrow layout shows before it.
func cell(_ label: String, _ content: String, class name: String? = nil, attributes: String = "") -> String {
    let classAttribute = name.map { " class=\"\($0)\"" } ?? ""
    return "<td\(classAttribute) data-label=\"\(HTML.escape(label))\"\(attributes)>\(content)</td>"
}
