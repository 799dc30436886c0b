/// The numeric identity a container process runs with, resolved from an image's `User`.
public struct ResolvedUser: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups: the groups of `/etc/group` that list the user as a member.
    public var additionalGids: [UInt32]
    /// The user's home directory from `/etc/passwd` (`/` when unknown), for `HOME`.
    public var home: String

    public init(uid: UInt32, gid: UInt32, additionalGids: [UInt32] = [], home: String = "/") {
        self.uid = uid
        self.gid = gid
        self.additionalGids = additionalGids
        self.home = home
    }

    /// Resolves `user` as Docker does: `name`, `uid`, `uid:gid`, `name:group`, `uid:group` or
    /// `name:gid`; names are looked up in the rootfs's `/etc/passwd` and `/etc/group` (their
    /// contents given here), and an unknown name is an error. An empty value is root (0:0).
    /// Without a group, the user's primary group from `/etc/passwd` is used (0 when the numeric
    /// uid has no entry).
    public static func resolve(_ user: String, passwd: String?, group: String?) throws -> ResolvedUser {
        let spec = user.trimmingWhitespace()
        if spec.isEmpty { return ResolvedUser(uid: 0, gid: 0, home: lookupHome(uid: 0, passwd: passwd) ?? "/root") }
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userPart = parts[0]
        let groupPart = parts.count > 1 ? parts[1] : nil
        guard !userPart.isEmpty, groupPart.map({ !$0.isEmpty }) ?? true else {
            throw RuntimeError.unknownUser(user: user, reason: "not of the form user[:group]")
        }
        let users = parsePasswd(passwd ?? "")
        let groups = parseGroup(group ?? "")

        let uid: UInt32
        var gid: UInt32 = 0
        var name: String?
        var home = "/"
        if let number = UInt32(userPart) {
            uid = number
            if let entry = users.first(where: { $0.uid == number }) {
                gid = entry.gid
                name = entry.name
                home = entry.home
            }
        } else {
            guard passwd != nil else {
                throw RuntimeError.unknownUser(user: user, reason: "the image has no /etc/passwd to look up '\(userPart)' in; use a numeric uid")
            }
            guard let entry = users.first(where: { $0.name == userPart }) else {
                throw RuntimeError.unknownUser(user: user, reason: "no user '\(userPart)' in the image's /etc/passwd")
            }
            uid = entry.uid
            gid = entry.gid
            name = entry.name
            home = entry.home
        }
        if let groupPart {
            if let number = UInt32(groupPart) {
                gid = number
            } else {
                guard group != nil else {
                    throw RuntimeError.unknownUser(user: user, reason: "the image has no /etc/group to look up '\(groupPart)' in; use a numeric gid")
                }
                guard let entry = groups.first(where: { $0.name == groupPart }) else {
                    throw RuntimeError.unknownUser(user: user, reason: "no group '\(groupPart)' in the image's /etc/group")
                }
                gid = entry.gid
            }
        }
        var additional: [UInt32] = []
        if let name {
            for entry in groups where entry.members.contains(name) && entry.gid != gid && !additional.contains(entry.gid) {
                additional.append(entry.gid)
            }
        }
        return ResolvedUser(uid: uid, gid: gid, additionalGids: additional, home: home.isEmpty ? "/" : home)
    }

    private static func lookupHome(uid: UInt32, passwd: String?) -> String? {
        parsePasswd(passwd ?? "").first(where: { $0.uid == uid })?.home
    }

    struct PasswdEntry {
        var name: String
        let uid: UInt32
        var gid: UInt32
        var home: String
    }

    struct GroupEntry {
        var name: String
        var gid: UInt32
        var members: [String]
    }

    /// `name:password:uid:gid:gecos:home:shell` lines; malformed lines are skipped, as libc does.
    static func parsePasswd(_ text: String) -> [PasswdEntry] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 4, !fields[0].isEmpty, !fields[0].hasPrefix("#"),
                  let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) else { return nil }
            return PasswdEntry(name: fields[0], uid: uid, gid: gid, home: fields.count > 5 ? fields[5] : "/")
        }
    }

    /// `name:password:gid:member,member` lines; malformed lines are skipped.
    static func parseGroup(_ text: String) -> [GroupEntry] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3, !fields[0].isEmpty, !fields[0].hasPrefix("#"), let gid = UInt32(fields[2]) else { return nil }
            let members = fields.count > 3 ? fields[3].split(separator: ",").map { $0.trimmingWhitespace() } : []
            return GroupEntry(name: fields[0], gid: gid, members: members.filter { !$0.isEmpty })
        }
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
