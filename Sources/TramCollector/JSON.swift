import TramJSON

/// The collector's JSON is TramJSON's value (ordered keys, exact 64-bit integers), which its answers render.
public typealias JSON = TramJSON.JSON
