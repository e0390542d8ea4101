import AuthFileBackend
import Foundation
import FuzzSupport

/// libFuzzer target: the auth file backend's parser (`AuthFile(json:)`, what `etcetera-auth-file` reads
/// at start and on every change of the file). Any input must end in a parsed file or an
/// `AuthFileProblem`, never a trap; a parsed file's users and roles must come out sorted and unique.
@main
enum FuzzerEntry {
    static func main() { runLibFuzzer(testOneInput) }
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let json = Data(bytes: data, count: size)
    guard let file = try? AuthFile(json: json) else { return 0 }
    let userNames = file.users.map { Array($0.name.utf8) }
    let roleNames = file.roles.map { Array($0.name.utf8) }
    for names in [userNames, roleNames] {
        for (earlier, later) in zip(names, names.dropFirst()) where !earlier.lexicographicallyPrecedes(later) {
            fatalError("auth file names out of order or repeated: \(earlier) before \(later)")
        }
    }
    return 0
}
