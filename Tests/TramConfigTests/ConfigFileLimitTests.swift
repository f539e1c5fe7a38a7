import Testing
import TramConfig
import TramConfigFiles
#if canImport(Glibc)
import Glibc
#endif

/// A file the loader cannot read says why, so a person can act on it: the size limit by name, a missing file.
@Suite("Config files the loader cannot read")
struct ConfigFileLimitTests {
    @Test("a file over the size limit is refused with its size and the limit, not as unreadable")
    func tooLarge() throws {
        let path = "/tmp/tram-config-limit-\(getpid()).yaml"
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        // Sparse: 17 MiB of size, no disk used.
        #expect(ftruncate(fd, off_t(17 << 20)) == 0)
        close(fd)
        let result = DeviceMapLoader(source: FileConfigSource()).loadAgent(path)
        #expect(result.value == nil)
        let messages = result.diagnostics.map(\.message)
        #expect(
            messages == [
                "cannot read the file: it is 17.0 MiB, over the 16 MiB limit for a config file "
                    + "(100,000 inline points take about 10 MB; devices that share a profile take a few lines each)"
            ])
    }

    @Test("a missing file says so")
    func missing() {
        let result = DeviceMapLoader(source: FileConfigSource()).loadAgent("/tmp/tram-no-such-\(getpid()).yaml")
        #expect(result.diagnostics.map(\.message) == ["cannot read the file: no such file or directory"])
    }
}
