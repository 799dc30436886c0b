import Foundation
@testable import ImageBuild
import Testing

@Suite struct SignedBuildTests {
    @Test func runIsCoveredButThePathToTheResolversConfiguration() throws {
        #expect(BuildWorker.runtimeCovers(keeping: "/etc/resolv.conf") == ["/run"])
        // systemd-resolved's layout: /etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf.
        let covers = BuildWorker.runtimeCovers(keeping: "/run/systemd/resolve/stub-resolv.conf")
        #expect(covers.allSatisfy { $0.hasPrefix("/run/") })
        #expect(!covers.contains("/run/systemd") && !covers.contains("/run"))
        let topLevel = Set(try FileManager.default.contentsOfDirectory(atPath: "/run")).subtracting(["systemd"])
        #expect(topLevel.allSatisfy { covers.contains("/run/" + $0) }, "\(covers)")
    }
}
