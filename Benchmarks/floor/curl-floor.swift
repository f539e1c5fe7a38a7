// The least any Swift agent that uploads through Debian's libcurl can weigh: the Swift runtime (linked statically,
// as tram-agent's package ships), its concurrency runtime started, and libcurl loaded and initialised (OpenSSL,
// GnuTLS, Kerberos, LDAP and the rest of Debian's build come with it). Nothing of Tram's.
// Benchmarks/agent-footprint.sh compiles it with `swiftc -O -parse-as-library -static-stdlib ... -lcurl` and prints
// its resident set beside the agent's.
import Glibc

@_silgen_name("curl_global_init") func curl_global_init(_ flags: Int) -> Int32
@_silgen_name("curl_easy_init") func curl_easy_init() -> OpaquePointer?

@main
struct CurlFloor {
    static func main() async throws {
        guard curl_global_init(3) == 0, curl_easy_init() != nil else { fatalError("libcurl did not initialise") }  // 3: CURL_GLOBAL_DEFAULT
        try await Task.sleep(for: .milliseconds(100))
        print(residentKilobytes())
    }

    static func residentKilobytes() -> Int {
        guard let file = fopen("/proc/self/status", "r") else { return -1 }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("VmRSS:") { return Int(text.split(separator: " ")[1]) ?? -1 }
        }
        return -1
    }
}
