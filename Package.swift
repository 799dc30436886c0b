// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Harden",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "harden", targets: ["harden"]),
        .library(name: "Archive", targets: ["Archive"]),
        .library(name: "OCI", targets: ["OCI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // System C libraries, linked through pkg-config.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLzma", pkgConfig: "liblzma", providers: [.apt(["liblzma-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // Linux headers Glibc's module leaves out (xattrs, device numbers, flock).
        .systemLibrary(name: "CSystem"),

        // Byte formats: tar, ar, gzip/zstd/xz, streaming SHA-256.
        .target(
            name: "Archive",
            dependencies: [
                "CZlib", "CLzma", "CZstd", "CSystem",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // OCI image format: digests, manifests, layouts, archives, references.
        .target(name: "OCI", dependencies: ["Archive"]),
        // The command-line tool: thin commands over the libraries.
        .executableTarget(
            name: "harden",
            dependencies: [
                "Archive", "OCI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Throughput benchmark against the C tools (gzip, zstd, sha256sum).
        .executableTarget(
            name: "HardenBench",
            dependencies: ["Archive", "OCI"],
            path: "Benchmarks/HardenBench"
        ),
        // Helpers shared by the test targets: running real tools, temporary directories.
        .target(name: "TestSupport", dependencies: ["Archive"], path: "Tests/TestSupport"),
        .testTarget(name: "ArchiveTests", dependencies: ["Archive", "TestSupport"]),
        .testTarget(name: "OCITests", dependencies: ["OCI", "Archive", "TestSupport"]),
        .testTarget(name: "IntegrationTests", dependencies: ["OCI", "Archive", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
