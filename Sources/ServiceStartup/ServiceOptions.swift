import ArgumentParser

/// The options every service executable takes, as `@OptionGroup var service: ServiceOptions`: the
/// launcher passes them alike to each service, so they are declared (and documented) once. The bus's
/// options live here.
public struct ServiceOptions: ParsableArguments {
    @Option(help: "debug, info, warn or error.")
    public var logLevel: String = "info"

    @Option(help: "Directory of the bus's CURVE keys (etcetera bus-keys DIR); encrypts the tcp:// bus endpoints.")
    public var busCurveKeys: String?

    @Flag(help: "Accept tcp:// bus endpoints without --bus-curve-keys: plaintext and unauthenticated (warns at every start).")
    public var busInsecure = false

    public init() {}
}
