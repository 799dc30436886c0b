// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Harden",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "harden", targets: ["harden"]),
        .library(name: "Archive", targets: ["Archive"]),
        .library(name: "OCI", targets: ["OCI"]),
        .library(name: "OpenPGP", targets: ["OpenPGP"]),
        .library(name: "Debian", targets: ["Debian"]),
        .library(name: "ImageBuild", targets: ["ImageBuild"]),
        .library(name: "ContainerRuntime", targets: ["ContainerRuntime"]),
        .library(name: "SBOM", targets: ["SBOM"]),
        .library(name: "Attestation", targets: ["Attestation"]),
        .library(name: "Policy", targets: ["Policy"]),
        .library(name: "Registry", targets: ["Registry"]),
        .library(name: "VEX", targets: ["VEX"]),
        .library(name: "Vulnerability", targets: ["Vulnerability"]),
        .library(name: "Catalog", targets: ["Catalog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // System C libraries, linked through pkg-config.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLzma", pkgConfig: "liblzma", providers: [.apt(["liblzma-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // Linux headers Glibc's module leaves out (xattrs, device numbers, flock).
        .systemLibrary(name: "CLinux"),

        // Byte formats: tar, ar, gzip/zstd/xz, streaming SHA-256.
        .target(
            name: "Archive",
            dependencies: [
                "CZlib", "CLzma", "CZstd", "CLinux",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // OCI image format: digests, manifests, layouts, archives, references.
        .target(name: "OCI", dependencies: ["Archive"]),
        // OpenPGP: keyrings and signature verification (RSA, EdDSA) for signed Debian repositories.
        .target(
            name: "OpenPGP",
            dependencies: [
                "Archive",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // Debian: versions, control files, repositories, resolver, downloads (AsyncHTTPClient) and their cache, lock files.
        .target(
            name: "Debian",
            dependencies: [
                "Archive", "OpenPGP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Software bills of materials: package inventory of any Debian-based image, SPDX 2.3 and CycloneDX 1.6.
        .target(name: "SBOM", dependencies: ["Archive", "OCI", "Debian", .product(name: "Crypto", package: "swift-crypto")]),
        // Keys, DSSE, in-toto statements, SLSA provenance, cosign-compatible signatures and attachments.
        .target(
            name: "Attestation",
            dependencies: [
                "Archive", "OCI",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // Verification of signed images against a policy (and, later, audit rules).
        .target(name: "Policy", dependencies: ["Archive", "OCI", "SBOM", "Attestation", "Vulnerability", "VEX", .product(name: "Yams", package: "Yams")]),
        // OCI distribution: push, pull and copy through registries (auth, retries, resumable uploads, referrers).
        .target(
            name: "Registry",
            dependencies: [
                "Archive", "OCI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // OpenVEX documents: package URLs, statements, create, merge and matching to findings.
        .target(name: "VEX", dependencies: ["Archive", "OCI"]),
        .target(name: "Catalog", dependencies: ["Archive", "OCI", "Debian", "SBOM", "Attestation", "Policy", "Vulnerability", "VEX", "ImageBuild", "Registry"]),
        // Vulnerability feeds (Debian Security Tracker, OSV), the local database, the matcher and reports.
        .target(name: "Vulnerability", dependencies: ["Debian", "OCI", "SBOM", "VEX", .product(name: "GRDB", package: "GRDB.swift")]),
        // Running images for real: OCI runtime bundles and runc, for `harden test`.
        .target(name: "ContainerRuntime", dependencies: ["Archive", "OCI", "CLinux"]),
        // Image specs (YAML), locking, assembly of hardened images, and the signed build (isolated child + control plane).
        .target(name: "ImageBuild", dependencies: ["Archive", "OCI", "Debian", "SBOM", "VEX", "ContainerRuntime", "CLinux", "Attestation", .product(name: "Yams", package: "Yams")]),
        // The command-line tool: thin commands over the libraries.
        .executableTarget(
            name: "harden",
            dependencies: [
                "Archive", "OCI", "Debian", "ImageBuild", "ContainerRuntime", "SBOM", "Attestation", "Policy", "Registry", "Catalog",
                "VEX", "Vulnerability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Fuzz targets for every parser of untrusted bytes (scripts/fuzz builds them with libFuzzer;
        // a plain build replays files through them, for the regression tests).
        .executableTarget(name: "HardenFuzz", dependencies: ["Archive", "Debian", "OCI", "OpenPGP", "SBOM", "VEX", "Vulnerability"]),
        // Throughput benchmark against the C tools (gzip, zstd, sha256sum).
        .executableTarget(
            name: "HardenBench",
            dependencies: ["Archive", "OCI", "Debian", "Attestation", "SBOM", "Vulnerability", "ContainerRuntime", "TestSupport"],
            path: "Benchmarks/HardenBench"
        ),
        // Helpers shared by the test targets: running real tools, temporary directories.
        .target(name: "TestSupport", dependencies: ["Archive", "Debian", "ContainerRuntime"], path: "Tests/TestSupport"),
        .testTarget(name: "ArchiveTests", dependencies: ["Archive", "TestSupport"]),
        .testTarget(name: "OCITests", dependencies: ["OCI", "Archive", "TestSupport"]),
        .testTarget(name: "OpenPGPTests", dependencies: ["OpenPGP", "TestSupport", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "DebianTests", dependencies: ["Debian", "Archive", "OpenPGP", "TestSupport"]),
        .testTarget(name: "SBOMTests", dependencies: ["SBOM", "OCI", "Archive", "Debian", "TestSupport"]),
        .testTarget(name: "ContainerRuntimeTests", dependencies: ["ContainerRuntime", "OCI", "Archive", "TestSupport"]),
        .testTarget(name: "ImageBuildTests", dependencies: ["ImageBuild", "Debian", "VEX", "TestSupport"]),
        .testTarget(name: "AttestationTests", dependencies: ["Attestation", "OCI", "Archive", "TestSupport"]),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "Attestation", "OCI", "Archive", "TestSupport"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "OCI", "Archive", "TestSupport"]),
        .testTarget(name: "VEXTests", dependencies: ["VEX", "OCI", "Archive", "TestSupport"]),
        .testTarget(name: "VulnerabilityTests", dependencies: ["Vulnerability", "VEX", "Debian", "Archive", "TestSupport"]),
        .testTarget(name: "IntegrationTests", dependencies: ["OCI", "Archive", "Debian", "ImageBuild", "Attestation", "Policy", "Catalog", "Vulnerability", "VEX", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
