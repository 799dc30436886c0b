/// The part of the OCI runtime specification's `config.json` (1.0) that Harden writes.
public struct RuntimeSpec: Sendable, Equatable, Codable {
    public struct User: Sendable, Equatable, Codable {
        public var uid: UInt32
        public var gid: UInt32
        public var additionalGids: [UInt32]?
    }

    public struct Capabilities: Sendable, Equatable, Codable {
        public var bounding: [String]
        public var effective: [String]
        public var permitted: [String]
        public var inheritable: [String]
        public var ambient: [String]
    }

    public struct Rlimit: Sendable, Equatable, Codable {
        public var type: String
        public var hard: UInt64
        public var soft: UInt64
    }

    public struct Process: Sendable, Equatable, Codable {
        public var terminal: Bool
        public var user: User
        public var args: [String]
        public var env: [String]
        public var cwd: String
        public var capabilities: Capabilities
        public var rlimits: [Rlimit]
        public var noNewPrivileges: Bool
    }

    public struct Root: Sendable, Equatable, Codable {
        public var path: String
        public var readonly: Bool
    }

    public struct Mount: Sendable, Equatable, Codable {
        public var destination: String
        public var type: String
        public var source: String
        public var options: [String]
    }

    public struct Namespace: Sendable, Equatable, Codable {
        public var type: String
    }

    public struct DeviceRule: Sendable, Equatable, Codable {
        public var allow: Bool
        public var access: String
    }

    public struct Resources: Sendable, Equatable, Codable {
        public var devices: [DeviceRule]
    }

    public struct Linux: Sendable, Equatable, Codable {
        public var resources: Resources
        public var namespaces: [Namespace]
        public var maskedPaths: [String]
        public var readonlyPaths: [String]
    }

    public var ociVersion: String
    public var process: Process
    public var root: Root
    public var hostname: String
    public var mounts: [Mount]
    public var linux: Linux

    /// runc's default capability set (what `runc spec` gives root).
    public static let defaultRootCapabilities = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

    /// A locked-down configuration for running `args` as `user`: fresh pid, ipc, uts, mount and
    /// network namespaces (no network at all, only `lo`), `noNewPrivileges`, no capabilities for a
    /// non-root user and runc's default set for root, a read-only root with a writable `/tmp`,
    /// and the mounts, masked and read-only paths of `runc spec`.
    public static func locked(args: [String], env: [String], cwd: String, user: ResolvedUser,
                              rootPath: String, hostname: String = "harden-test") -> RuntimeSpec {
        let capabilities = user.uid == 0 ? defaultRootCapabilities : []
        let process = Process(
            terminal: false,
            user: User(uid: user.uid, gid: user.gid, additionalGids: user.additionalGids.isEmpty ? nil : user.additionalGids),
            args: args, env: env, cwd: cwd,
            capabilities: Capabilities(bounding: capabilities, effective: capabilities, permitted: capabilities,
                                       inheritable: [], ambient: []),
            rlimits: [Rlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)],
            noNewPrivileges: true)
        let mounts = [
            Mount(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
            Mount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            Mount(destination: "/dev/pts", type: "devpts", source: "devpts",
                  options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            Mount(destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
            Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
            Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
            Mount(destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777", "size=65536k"]),
        ]
        let linux = Linux(
            resources: Resources(devices: [DeviceRule(allow: false, access: "rwm")]),
            namespaces: ["pid", "network", "ipc", "uts", "mount"].map { Namespace(type: $0) },
            maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"])
        return RuntimeSpec(ociVersion: "1.0.2", process: process, root: Root(path: rootPath, readonly: true),
                           hostname: hostname, mounts: mounts, linux: linux)
    }
}
