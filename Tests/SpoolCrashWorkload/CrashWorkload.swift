import SystemPackage
import TramSchema
import TramSpool
import TramTestSupport

// What the kill -9 child appends, derived from each batch's identity alone so the test can
// check any byte it gets back without being told. One library for the child and the test.

public let crashSink = "collector"
public let crashSchemaID: UInt64 = 0xC4A5_0001
public let crashDictionary: [UInt8] = Array("tram crash-test dictionary".utf8)

public func crashSpoolOptions(directory: FilePath, segmentBytes: Int, syncMilliseconds: Int64) -> SpoolOptions {
    SpoolOptions(
        directory: directory, maximumBytes: 1 << 30, maximumAgeMilliseconds: 100 * 365 * 86_400_000,
        syncIntervalMilliseconds: syncMilliseconds, segmentBytes: segmentBytes, sinks: [crashSink])
}

public func crashFrame(_ identity: BatchIdentity) -> [UInt8] {
    var random = SeededRandom(seed: identity.epoch &* 0x100_0000_01B3 ^ identity.sequence)
    let length = 24 + Int(random.next() % 360)
    return (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
}

public func crashReadings(_ identity: BatchIdentity) -> Int {
    var random = SeededRandom(seed: identity.sequence &* 31 ^ identity.epoch)
    return 1 + Int(random.next() % 200)
}
