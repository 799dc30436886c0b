/// A version restriction in a relation, such as `(>= 1.2)`.
public struct VersionConstraint: Sendable, Hashable, CustomStringConvertible {
    /// The relation operators of Debian Policy 7.1.
    ///
    /// The obsolete forms `<` and `>` are read as `<=` and `>=` (dpkg accepts them with a warning).
    public enum Operator: String, Sendable {
        case lessThan = "<<", lessOrEqual = "<=", equal = "=", greaterOrEqual = ">=", greaterThan = ">>"
    }

    public var op: Operator
    public var version: DebianVersion

    public init(_ op: Operator, _ version: DebianVersion) {
        self.op = op
        self.version = version
    }

    /// Whether `version` satisfies the constraint, comparing as dpkg does.
    public func isSatisfied(by version: DebianVersion) -> Bool {
        let order = DebianVersion.compare(version, self.version)
        switch op {
        case .lessThan: return order < 0
        case .lessOrEqual: return order <= 0
        case .equal: return order == 0
        case .greaterOrEqual: return order >= 0
        case .greaterThan: return order > 0
        }
    }

    /// The operator and version, e.g. `>= 1.2`.
    public var description: String { "\(op.rawValue) \(version)" }
}

/// One package relation: `name[:qualifier] [(op version)] [[arch …]] [<profile …> …]`.
public struct Relation: Sendable, Hashable, CustomStringConvertible {
    /// The package name.
    public var name: String
    /// The qualifier after a colon: "any", "native" or an architecture name.
    public var architectureQualifier: String?
    /// The version restriction, if any.
    public var constraint: VersionConstraint?
    /// The `[amd64 !i386]` restriction list, with "!" kept as a prefix; empty admits all architectures.
    public var architectures: [String]
    /// The build profile groups `<!nocheck> <stage1 cross>`, each a list of terms ("!" kept as a prefix).
    public var profiles: [[String]]

    public init(name: String, architectureQualifier: String? = nil, constraint: VersionConstraint? = nil,
                architectures: [String] = [], profiles: [[String]] = []) {
        self.name = name
        self.architectureQualifier = architectureQualifier
        self.constraint = constraint
        self.architectures = architectures
        self.profiles = profiles
    }

    /// Whether the [arch] restriction admits `architecture` (an empty list admits all).
    ///
    /// Entries may be Debian architecture names or wildcards (`any`, `linux-any`, `any-amd64`); a list
    /// of negated entries admits every architecture none of them matches.
    public func appliesTo(architecture: String) -> Bool {
        if architectures.isEmpty { return true }
        if architectures.allSatisfy({ $0.hasPrefix("!") }) {
            return !architectures.contains { Self.architecture(architecture, matches: String($0.dropFirst())) }
        }
        return architectures.contains { !$0.hasPrefix("!") && Self.architecture(architecture, matches: $0) }
    }

    /// Whether the build profile restriction admits the set of active profiles (no groups admit all):
    /// true when every term of at least one group holds.
    public func appliesTo(profiles active: Set<String>) -> Bool {
        if profiles.isEmpty { return true }
        return profiles.contains { group in
            group.allSatisfy { term in
                term.hasPrefix("!") ? !active.contains(String(term.dropFirst())) : active.contains(term)
            }
        }
    }

    /// Whether a version satisfies the relation's constraint (always, without one).
    public func isSatisfied(by version: DebianVersion) -> Bool {
        constraint?.isSatisfied(by: version) ?? true
    }

    /// The relation in Debian syntax, e.g. `libc6:any (>= 2.36) [amd64] <!nocheck>`.
    public var description: String {
        var text = name
        if let architectureQualifier { text += ":" + architectureQualifier }
        if let constraint { text += " (\(constraint))" }
        if !architectures.isEmpty { text += " [" + architectures.joined(separator: " ") + "]" }
        for group in profiles { text += " <" + group.joined(separator: " ") + ">" }
        return text
    }

    /// Matches an architecture against a name or a wildcard `os-any` / `any-cpu` / `any`.
    static func architecture(_ arch: String, matches pattern: String) -> Bool {
        if pattern == arch || pattern == "any" { return true }
        let (os, cpu) = split(arch)
        if pattern.hasSuffix("-any") { return os == pattern.dropLast(4) }
        if pattern.hasPrefix("any-") { return cpu == pattern.dropFirst(4) }
        return false
    }

    /// A Debian architecture's operating system and CPU ("amd64" is linux/amd64, "armhf" linux/arm,
    /// "hurd-i386" hurd/i386).
    static func split(_ arch: String) -> (os: Substring, cpu: Substring) {
        var os: Substring = "linux", cpu = Substring(arch)
        if let dash = arch.firstIndex(of: "-") {
            os = arch[..<dash]
            cpu = arch[arch.index(after: dash)...]
        }
        switch cpu {
        case "armel", "armhf": cpu = "arm"
        case "x32": cpu = "amd64"
        case "arm64ilp32": cpu = "arm64"
        default: break
        }
        return (os, cpu)
    }
}

/// Parser for relation fields: Depends, Pre-Depends, Recommends, Build-Depends, Provides, Conflicts, ….
public enum RelationParser {
    /// "a (>= 1.2) | b:any, c [amd64] <!nocheck>" -> [[a, b], [c]]: AND of OR-groups.
    ///
    /// An empty or blank field gives []. Empty groups (as from a trailing comma in `debian/control`)
    /// are skipped; an empty alternative (`| b`) is an error. The obsolete operators `<` and `>` are
    /// accepted as `<=` and `>=`, as dpkg does. Errors are `DebianError.invalidRelation` naming the group.
    public static func parse(_ field: String) throws -> [[Relation]] {
        let bytes = Array(field.utf8)
        var result: [[Relation]] = []
        var groupStart = 0
        while groupStart <= bytes.count {
            let groupEnd = bytes[groupStart...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.count
            let group = bytes[groupStart..<groupEnd]
            if !group.allSatisfy(isSpace) {
                let groupText = String(decoding: trimmed(group), as: UTF8.self)
                var alternatives: [Relation] = []
                var start = groupStart
                while start <= groupEnd {
                    let end = bytes[start..<groupEnd].firstIndex(of: UInt8(ascii: "|")) ?? groupEnd
                    var parser = Parser(bytes: bytes, position: start, end: end, groupText: groupText)
                    alternatives.append(try parser.relation())
                    start = end + 1
                }
                result.append(alternatives)
            }
            groupStart = groupEnd + 1
        }
        return result
    }

    /// Formats relation groups back into a field value: alternatives joined by " | ", groups by ", ".
    public static func format(_ groups: [[Relation]]) -> String {
        groups.map { $0.map(\.description).joined(separator: " | ") }.joined(separator: ", ")
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 }

    static func trimmed(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = s
        while let c = s.first, isSpace(c) { s.removeFirst() }
        while let c = s.last, isSpace(c) { s.removeLast() }
        return s
    }

    /// A cursor over one alternative.
    struct Parser {
        let bytes: [UInt8]
        var position: Int
        let end: Int
        let groupText: String

        func fail(_ reason: String) -> DebianError { .invalidRelation(groupText, reason: reason) }

        var current: UInt8? { position < end ? bytes[position] : nil }

        mutating func skipSpace() {
            while position < end && RelationParser.isSpace(bytes[position]) { position += 1 }
        }

        /// Reads a run of bytes accepted by `accept`.
        mutating func word(_ accept: (UInt8) -> Bool) -> String {
            let start = position
            while position < end && accept(bytes[position]) { position += 1 }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        /// Reads up to (not including) a delimiter or whitespace.
        mutating func token(until delimiters: String) -> String {
            let stops = Array(delimiters.utf8)
            return word { !RelationParser.isSpace($0) && !stops.contains($0) }
        }

        mutating func relation() throws -> Relation {
            skipSpace()
            guard position < end else { throw fail("empty alternative") }
            let name = token(until: ":([<)]>|,")
            guard !name.isEmpty else { throw fail("missing package name before '\(describe(current))'") }
            try checkPackageName(name)
            var relation = Relation(name: name)
            if current == UInt8(ascii: ":") {
                position += 1
                let qualifier = token(until: ":([<)]>")
                guard !qualifier.isEmpty, qualifier.utf8.allSatisfy(isArchitectureCharacter) else {
                    throw fail("invalid architecture qualifier '\(qualifier)' after '\(name)'")
                }
                relation.architectureQualifier = qualifier
            }
            skipSpace()
            if current == UInt8(ascii: "(") {
                position += 1
                relation.constraint = try constraint()
                skipSpace()
            }
            if current == UInt8(ascii: "[") {
                position += 1
                relation.architectures = try architectureList()
                skipSpace()
            }
            while current == UInt8(ascii: "<") {
                position += 1
                relation.profiles.append(try profileGroup())
                skipSpace()
            }
            if let c = current {
                throw fail("unexpected '\(describe(c))' after '\(name)'")
            }
            return relation
        }

        mutating func constraint() throws -> VersionConstraint {
            skipSpace()
            let opText = word { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "=") }
            let op: VersionConstraint.Operator
            switch opText {
            case "<<": op = .lessThan
            case "<=", "<": op = .lessOrEqual      // "<" is the obsolete spelling of "<="
            case "=": op = .equal
            case ">=", ">": op = .greaterOrEqual   // ">" is the obsolete spelling of ">="
            case ">>": op = .greaterThan
            case "":
                throw fail(current == nil ? "unbalanced '(': missing version"
                                          : "invalid version operator '\(token(until: ")"))'")
            default: throw fail("invalid version operator '\(opText)'")
            }
            skipSpace()
            let text = token(until: "()[]<>|,")
            guard !text.isEmpty else {
                throw fail(current == UInt8(ascii: ")") || current == nil ? "missing version after '\(opText)'"
                                                                          : "unexpected '\(describe(current))' in version")
            }
            let version: DebianVersion
            do {
                version = try DebianVersion(text)
            } catch let DebianError.invalidVersion(_, reason) {
                throw fail("invalid version '\(text)': \(reason)")
            }
            skipSpace()
            guard current == UInt8(ascii: ")") else {
                throw fail(current == nil ? "unbalanced '(': missing ')'" : "unexpected '\(describe(current))' in version constraint")
            }
            position += 1
            return VersionConstraint(op, version)
        }

        mutating func architectureList() throws -> [String] {
            var list: [String] = []
            while true {
                skipSpace()
                guard let c = current else { throw fail("unbalanced '[': missing ']'") }
                if c == UInt8(ascii: "]") { position += 1; break }
                let negated = c == UInt8(ascii: "!")
                if negated { position += 1 }
                let arch = word(isArchitectureCharacter)
                guard !arch.isEmpty else { throw fail("invalid architecture at '\(describe(current))' in '[…]'") }
                list.append(negated ? "!" + arch : arch)
            }
            guard !list.isEmpty else { throw fail("empty architecture list '[]'") }
            let negatedCount = list.filter { $0.hasPrefix("!") }.count
            guard negatedCount == 0 || negatedCount == list.count else {
                throw fail("architecture list mixes negated and plain architectures")
            }
            return list
        }

        mutating func profileGroup() throws -> [String] {
            var terms: [String] = []
            while true {
                skipSpace()
                guard let c = current else { throw fail("unbalanced '<': missing '>'") }
                if c == UInt8(ascii: ">") { position += 1; break }
                let negated = c == UInt8(ascii: "!")
                if negated { position += 1 }
                let profile = word { isLowerAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
                guard !profile.isEmpty else { throw fail("invalid build profile at '\(describe(current))' in '<…>'") }
                terms.append(negated ? "!" + profile : profile)
            }
            guard !terms.isEmpty else { throw fail("empty build profile group '<>'") }
            return terms
        }

        func checkPackageName(_ name: String) throws {
            let utf8 = Array(name.utf8)
            guard let first = utf8.first, isLowerAlnum(first) else {
                throw fail("package name '\(name)' must start with a lowercase letter or digit")
            }
            for c in utf8 where !(isLowerAlnum(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")) {
                throw fail("invalid character '\(describe(c))' in package name '\(name)'")
            }
        }

        func describe(_ c: UInt8?) -> String {
            guard let c else { return "end of field" }
            return String(decoding: [c], as: UTF8.self)
        }
    }

    static func isLowerAlnum(_ c: UInt8) -> Bool { c &- 97 < 26 || c &- 48 < 10 }
    static func isArchitectureCharacter(_ c: UInt8) -> Bool { isLowerAlnum(c) || c == UInt8(ascii: "-") }
}
