/// The spool's defaults, written once: the agent file's `spool:` section (TramConfig) falls back to them, and so
/// does a spool opened by hand (TramSpool's options, `tramctl`, tests). Neither module imports the other.
public enum SpoolDefaults {
    public static let directory = "/var/lib/tram/spool"
    public static let maximumBytes = 1 << 30
    public static let maximumAge: Duration = .seconds(30 * 86_400)
    /// fdatasync at most this often: flash wears out, and a power cut loses at most one interval.
    public static let syncInterval: Duration = .seconds(1)
    /// While the disk is full, the newest batches wait in a RAM ring of this size.
    public static let diskFullRingBytes = 2 << 20
}
