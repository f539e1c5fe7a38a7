/// How hard a commit is pushed to disk. See docs/collector.md, "Durability".
public enum Durability: String, Sendable, CaseIterable {
    /// WAL with synchronous=NORMAL: a committed transaction survives the collector's crash (kill -9);
    /// a power loss or kernel panic may lose the last transactions before a checkpoint.
    case normal
    /// WAL with synchronous=FULL: every commit is fsynced, so it also survives power loss.
    case full
}
