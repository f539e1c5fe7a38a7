import Foundation
import TramCollectorStore

/// The park operator's console: server-rendered pages on a listener of their own (docs/console.md).
public enum Console {}
