import Archive
import Foundation
import OCI

/// The default place built images go: one OCI image layout, tags `name:tag` and `name:tag-dev`.
public enum LocalStore {
    /// `$HARDEN_STORE`, else `$XDG_DATA_HOME/harden/images`, else `~/.local/share/harden/images`.
    public static func defaultPath() -> String {
        let environment = ProcessInfo.processInfo.environment
        if let store = environment["HARDEN_STORE"], !store.isEmpty { return store }
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return xdg + "/harden/images" }
        return (environment["HOME"] ?? "/root") + "/.local/share/harden/images"
    }

    /// Opens (or creates) the store, first removing what killed runs left behind: their temporary
    /// files in the store and their temporary directories under `$TMPDIR`.
    public static func open(_ path: String = defaultPath()) throws -> ImageLayout {
        let layout = try ImageLayout.create(at: path)
        layout.removeStaleTemporaries()
        FileSystem.removeStaleTemporaryDirectories()
        return layout
    }
}
