import SystemPackage
import TramSpool

// What the kill -9 child appends, derived from each batch's identity alone so the test can
// check any byte it gets back without being told. A copy of Tests/SpoolCrashChild/CrashWorkload.swift
// (an executable cannot be a test dependency); keep the two in step. A difference shows up at
// once as every replayed frame failing its check.

let crashSink = "collector"
let crashSchemaID: UInt64 = 0xC4A5_0001
let crashDictionary: [UInt8] = Array("tram crash-test dictionary".utf8)

func crashSpoolOptions(directory: FilePath, segmentBytes: Int, syncMilliseconds: Int64) -> SpoolOptions {
    SpoolOptions(directory: directory, maximumBytes: 1 << 30, maximumAgeMilliseconds: 100 * 365 * 86_400_000,
                 syncIntervalMilliseconds: syncMilliseconds, segmentBytes: segmentBytes, sinks: [crashSink])
}

/// SplitMix64: small, seeded, the same on both sides.
struct CrashRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func crashFrame(_ identity: BatchIdentity) -> [UInt8] {
    var random = CrashRandom(seed: identity.epoch &* 0x100_0000_01B3 ^ identity.sequence)
    let length = 24 + Int(random.next() % 360)
    return (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
}

func crashReadings(_ identity: BatchIdentity) -> Int {
    var random = CrashRandom(seed: identity.sequence &* 31 ^ identity.epoch)
    return 1 + Int(random.next() % 200)
}
