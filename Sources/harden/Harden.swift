import ArgumentParser

/// The `harden` command: builds hardened container images and the evidence that makes them trustworthy.
@main
struct Harden: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "harden",
        abstract: "Build hardened, reproducible container images from Debian packages, with the evidence to trust them.",
        discussion: """
        Images are named with skopeo's transports:
          oci:DIR[:TAG]                an OCI image layout directory
          oci-archive:FILE[:TAG]       a tar of an OCI image layout
          docker-archive:FILE[:NAME]   the 'docker save' format (docker load / podman load)
          REGISTRY/REPO[:TAG|@DIGEST]  a registry (coming with the registry client)

        Examples:
          harden pack ./rootfs --output oci:out:app --entrypoint /app
          harden inspect oci:out:app
          harden copy oci:out:app docker-archive:app.tar:example/app:1
        """,
        version: version,
        subcommands: [Inspect.self, Pack.self, Copy.self]
    )
}
