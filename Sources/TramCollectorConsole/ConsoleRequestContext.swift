import Hummingbird
import NIOCore

/// Hummingbird's basic context plus the client's address, which the sign-in rate limit is keyed by.
public struct ConsoleRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The address without its port ("203.0.113.7", "::1"); "unknown" when the channel has none.
    var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}
