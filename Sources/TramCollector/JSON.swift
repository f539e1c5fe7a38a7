import Dispatch
import Foundation
import Synchronization
import TramIngestProtocol
import TramJSON

/// The collector's JSON is TramJSON's value (ordered keys, exact 64-bit integers), which its answers render.
public typealias JSON = TramJSON.JSON

func hex(_ value: UInt64) -> String { SchemaIDText.encode(value) }

func nowMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
