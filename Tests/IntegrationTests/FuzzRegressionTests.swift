import Archive
import Foundation
import Testing
import TestSupport

/// Every fuzz target's seed corpus, and every input a fuzzing run ever found failing
/// (Tests/Fuzz/regressions, written by scripts/fuzz), replayed through the targets' code
/// without libFuzzer: none may crash.
@Suite struct FuzzRegressionTests {
    static let root = FileSystem.parentPath(FileSystem.parentPath(FileSystem.parentPath(#filePath))) + "/Tests/Fuzz"

    static var targets: [String] { ((try? FileSystem.listDirectory(root + "/seeds")) ?? []).sorted() }

    @Test func everyParserHasATargetWithSeeds() throws {
        let listed = try run(try builtBinary("HardenFuzz"), [])
        #expect(listed.status == 2)
        for target in Self.targets { #expect(listed.output.contains(target), "no fuzz target for seeds/\(target)") }
        #expect(Self.targets.count >= 19)
    }

    @Test(arguments: targets)
    func seedsAndRegressionsReplayWithoutCrashing(target: String) throws {
        let regressions = Self.root + "/regressions/" + target
        let inputs = [Self.root + "/seeds/" + target] + (FileSystem.isDirectory(regressions) ? [regressions] : [])
        let result = try run(try builtBinary("HardenFuzz"), [target] + inputs)
        #expect(result.status == 0, "\(target): \(result.output) \(result.stderr.suffix(2000))")
        #expect(result.output.contains("no crash"))
    }
}
