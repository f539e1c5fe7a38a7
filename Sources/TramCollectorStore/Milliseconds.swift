import TramCore

/// Now, in milliseconds since 1970: the `now` the store's calls take (and the relay's and the CLI's clock).
package func nowMilliseconds() -> Int64 { TramClock.system.wallMilliseconds() }
