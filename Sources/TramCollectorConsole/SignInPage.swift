/// The sign-in form: a read token, posted (never in a URL).
enum SignInPage {
    static func render(message: String?, _ formatting: Formatting, now: Int64) -> String {
        let error =
            message.map { "<p id=\"sign-in-error\" class=\"error\" role=\"alert\">\(HTML.escape($0))</p>" } ?? ""
        let body = """
            <h1>Sign in</h1>
            <p>Sign in with a read token (<code>tram-collector token add-reader NAME</code> prints one).</p>
            \(error)
            <form id="sign-in" method="post" action="/login">
            <label for="token">Read token</label>
            <input name="token" id="token" type="password" autocomplete="current-password" required autofocus>
            <button type="submit">Sign in</button>
            </form>
            """
        return Page(title: "Sign in", body: body, signedIn: false).render(formatting, now: now)
    }
}
