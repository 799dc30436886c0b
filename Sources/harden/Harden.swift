import ArgumentParser

/// The `harden` command: builds hardened container images and the evidence that makes them trustworthy.
@main
struct Harden: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "harden",
        abstract: "Build hardened, reproducible container images from Debian packages, with the evidence to trust them.",
        discussion: """
        Images are named with skopeo's transports:
          oci:DIR[:TAG]                an OCI image layout directory
          oci-archive:FILE[:TAG]       a tar of an OCI image layout
          docker-archive:FILE[:NAME]   the 'docker save' format (docker load / podman load)
          REGISTRY/REPO[:TAG|@DIGEST]  a registry (docker:// prefix optional)

        Examples:
          harden build catalog/python.yaml       # a hardened image and its -dev variant, in the local store
          harden images
          harden keygen && harden build catalog/base.yaml --key harden.key
          harden verify base:latest --key harden.pub --require provenance,spdx,cyclonedx
          harden lock catalog/base.yaml          # resolve and pin packages from signed repositories
          harden resolve catalog/base.yaml --why libssl3
          harden pack ./rootfs --output oci:out:app --entrypoint /app
          harden inspect oci:out:app
          harden copy oci:out:app docker-archive:app.tar:example/app:1
          harden push python:latest localhost:5000/hardened/python:latest
          harden verify localhost:5000/hardened/python:latest --key harden.pub
        """,
        version: version,
        subcommands: [Build.self, TestImage.self, SBOMCommand.self, Scan.self, DB.self, VEXCommand.self, Update.self, AuditCommand.self, DiffCommand.self, BaselineCommand.self, CatalogCommand.self, Keygen.self, Sign.self, Attest.self, Verify.self, Images.self, StoreCommand.self, Push.self, Pull.self, Login.self, Logout.self, Lock.self,
                      Resolve.self, Inspect.self, Pack.self, Copy.self, BuildStep.self]
    )
}
