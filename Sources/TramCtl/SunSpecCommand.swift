import ArgumentParser
import TramConfig
import TramModbus

/// `tramctl sunspec`: show the model chain a SunSpec device really has, and whether Tram's profile fits it.
struct SunSpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sunspec",
        abstract: "Discover a SunSpec device's model chain (base address, models, lengths).")

    @OptionGroup var target: LinkOptions

    @Option(help: "Unit id.")
    var unit: Int = 1

    func run() throws {
        let connection = ModbusConnection(link: try target.linkConfig())
        let chain: SunSpecDiscovery.Chain?
        do {
            try connection.open()
            chain = try SunSpecDiscovery.discover(on: connection, unit: unit)
        } catch {
            print("error: \(error)", to: &standardError)
            throw ExitCode(2)
        }
        guard let chain else {
            print(
                "no SunSpec marker ('SunS') at \(SunSpecDiscovery.bases.map(String.init).joined(separator: ", ")): not a SunSpec device, or another unit id"
            )
            throw ExitCode(1)
        }
        print("SunSpec base \(chain.base), \(chain.models.count) models")
        print(
            Output.table(
                ["  address", "model", "length", "name"],
                chain.models.map {
                    ["  \($0.address)", "\($0.id)", "\($0.length)", SunSpecDiscovery.name(of: $0.id)]
                }))
        let shape = chain.models.prefix(2).map { ($0.id, $0.length) }
        if chain.base == 40000, shape.count == 2, shape[0] == (1, 66), shape[1] == (103, 50) {
            print("profile sunspec/inverter-103 fits this device")
        } else {
            print(
                "profile sunspec/inverter-103 does NOT fit (it expects model 1 with length 66 at 40002, then model 103 at 40070): write a profile for this chain"
            )
        }
    }
}
