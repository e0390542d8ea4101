import CLibFuzzer

#if canImport(Glibc)
import Glibc
#endif

/// Runs libFuzzer on `testOneInput` with the process's arguments and exits with its status.
///
/// SwiftPM links every executable with `main` bound to the target's own entry point
/// (`--defsym main=<Target>_main`), which wins over libFuzzer's `main`; so each fuzz target has an
/// `@main` that calls this. libFuzzer's `main` is still linked in and names the input function, so
/// the target's `testOneInput` also carries the symbol `LLVMFuzzerTestOneInput`.
public func runLibFuzzer(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
}
