import Foundation

/// A package asked for by name, optionally pinned to one version (`name=version`), or excluded (`!name`).
public struct PackageRequest: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var version: DebianVersion?
    public var excluded: Bool

    public init(name: String, version: DebianVersion? = nil, excluded: Bool = false) {
        self.name = name
        self.version = version
        self.excluded = excluded
    }

    /// Parses `name`, `name=version` or `!name`.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("!") {
            self.init(name: String(trimmed.dropFirst()), excluded: true)
        } else if let equals = trimmed.firstIndex(of: "=") {
            self.init(name: String(trimmed[..<equals]), version: try DebianVersion(String(trimmed[trimmed.index(after: equals)...])))
        } else {
            self.init(name: trimmed)
        }
        guard !name.isEmpty, name.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 43 || $0 == 45 || $0 == 46 }) else {
            throw ResolverError.invalidRequest(text)
        }
    }

    public var description: String { excluded ? "!\(name)" : version.map { "\(name)=\($0)" } ?? name }
}

/// Why resolution failed. Each case names the chain of dependencies that led there.
public enum ResolverError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidRequest(String)
    case unknownPackage(name: String, chain: [String])
    case unsatisfiable(relation: String, chain: [String], reason: String)
    case conflict(package: String, with: String, relation: String, chains: [[String]])
    case excludedRequest(String)

    public var description: String {
        func path(_ chain: [String]) -> String { chain.joined(separator: " -> ") }
        switch self {
        case .invalidRequest(let text): return "invalid package request '\(text)' (use name, name=version or !name)"
        case .unknownPackage(let name, let chain):
            return chain.isEmpty ? "unknown package '\(name)'" : "unknown package '\(name)', needed by \(path(chain))"
        case .unsatisfiable(let relation, let chain, let reason):
            return "cannot satisfy '\(relation)' of \(path(chain)): \(reason)"
        case .conflict(let package, let other, let relation, let chains):
            return "\(package) conflicts with \(other) ('\(relation)'); \(package) comes from \(path(chains[0])), \(other) from \(path(chains[1]))"
        case .excludedRequest(let name): return "'\(name)' is both requested and excluded"
        }
    }
}

/// A dependency left out because the spec excludes every package that could satisfy it.
public struct DroppedDependency: Sendable, Equatable, CustomStringConvertible {
    /// The package whose dependency was dropped.
    public var package: String
    public var relation: String
    /// From a requested package down to `package`.
    public var chain: [String]

    public var description: String { "\(chain.joined(separator: " -> ")) depends on '\(relation)', which the spec excludes" }
}

/// The result of resolving requests against a universe for one architecture.
public struct Resolution: Sendable {
    /// The closure, sorted by name.
    public var packages: [BinaryPackage]
    /// For each selected package, the package that pulled it in and the relation (nil for requests).
    public var reasons: [String: (parent: String, relation: String)?]
    /// Dependencies dropped because the user excluded every alternative.
    public var dropped: [DroppedDependency]

    /// The chain from a requested package down to `name`: each step is a package and the
    /// dependency that pulled in the next one. Nil when `name` is not selected.
    public func why(_ name: String) -> [(package: String, relation: String?)]? {
        guard reasons.keys.contains(name) else { return nil }
        var chain: [(package: String, relation: String?)] = [(name, nil)]
        var current = name
        var seen: Set<String> = [name]
        while let reason = reasons[current] ?? nil, seen.insert(reason.parent).inserted {
            chain.insert((reason.parent, reason.relation), at: 0)
            current = reason.parent
        }
        return chain
    }
}

/// Computes the closure of requested packages over Depends and Pre-Depends, the way apt does
/// with `--no-install-recommends`, without implicit Essential packages:
///
/// - depth first, in the order dependencies are written;
/// - an OR-group already satisfied by a selected package (or something it provides) needs nothing;
/// - otherwise the first alternative that can be satisfied wins: the highest version of a real
///   package that meets the constraint, else a provider of the virtual name (preferring one
///   already selected, then by priority and name);
/// - `name:any` and `name:<arch>` qualifiers resolve within the target architecture;
/// - excluded names are never selected: a group whose alternatives are all excluded is dropped
///   and reported;
/// - Conflicts and Breaks between selected packages are errors.
public struct Resolver: Sendable {
    public let universe: PackageUniverse
    public let architecture: String

    public init(universe: PackageUniverse, architecture: String) {
        self.universe = universe
        self.architecture = architecture
    }

    public func resolve(_ requests: [PackageRequest]) throws -> Resolution {
        var state = State()
        state.excluded = Set(requests.filter(\.excluded).map(\.name))
        for request in requests where !request.excluded {
            if state.excluded.contains(request.name) { throw ResolverError.excludedRequest(request.name) }
            guard let candidates = universe.byName[request.name], !candidates.isEmpty else {
                if let providers = universe.providers[request.name] {
                    let names = Set(providers.map(\.package.name)).sorted().joined(separator: ", ")
                    throw ResolverError.unsatisfiable(relation: request.name, chain: [request.name],
                                                      reason: "it is a virtual package provided by \(names): request one of them")
                }
                throw ResolverError.unknownPackage(name: request.name, chain: [])
            }
            let package: BinaryPackage
            if let pin = request.version {
                guard let match = candidates.first(where: { $0.version == pin }) else {
                    throw ResolverError.unsatisfiable(relation: request.description, chain: [request.name],
                                                      reason: "no such version (available: \(candidates.map { $0.version.description }.joined(separator: ", ")))")
                }
                package = match
            } else {
                package = candidates[0]
            }
            if let selected = state.selected[package.name] {
                if selected.version != package.version {
                    throw ResolverError.unsatisfiable(relation: request.description, chain: [request.name],
                                                      reason: "\(selected.nameAndVersion) is already selected")
                }
                state.reasons[package.name] = .some(nil)
                continue
            }
            try select(package, reason: nil, state: &state)
        }
        try checkConflicts(state)
        return Resolution(packages: state.selected.values.sorted { $0.name < $1.name }, reasons: state.reasons,
                          dropped: state.dropped)
    }

    // MARK: - Selection

    private struct State {
        var selected: [String: BinaryPackage] = [:]
        var reasons: [String: (parent: String, relation: String)?] = [:]
        var excluded: Set<String> = []
        var dropped: [DroppedDependency] = []
        /// Virtual names provided by selected packages, with the provides relation.
        var provided: [String: [(package: BinaryPackage, provided: Relation)]] = [:]
    }

    private func select(_ package: BinaryPackage, reason: (parent: String, relation: String)?, state: inout State) throws {
        state.selected[package.name] = package
        state.reasons[package.name] = .some(reason)
        for provided in package.provides { state.provided[provided.name, default: []].append((package, provided)) }
        let groups: [[Relation]]
        do {
            groups = try package.dependencies()
        } catch {
            throw ResolverError.unsatisfiable(relation: "Depends", chain: chain(package.name, state), reason: "unparseable field: \(error)")
        }
        for group in groups {
            let alternatives = group.filter { $0.appliesTo(architecture: architecture) }
            if alternatives.isEmpty { continue }
            let text = alternatives.map(\.description).joined(separator: " | ")
            if alternatives.contains(where: { isSatisfiedBySelection($0, state) }) { continue }
            let allowed = alternatives.filter { !state.excluded.contains($0.name) }
            if allowed.isEmpty {
                state.dropped.append(DroppedDependency(package: package.name, relation: text, chain: chain(package.name, state)))
                continue
            }
            var chosen: BinaryPackage?
            for relation in allowed {
                if let candidate = candidate(for: relation, state) {
                    chosen = candidate
                    break
                }
            }
            guard let chosen else {
                throw ResolverError.unsatisfiable(relation: text, chain: chain(package.name, state), reason: explain(allowed, state))
            }
            if state.selected[chosen.name] != nil { continue }
            try select(chosen, reason: (package.name, text), state: &state)
        }
    }

    /// The name a relation refers to in this architecture (`:any` and `:<arch>` qualifiers dropped).
    private func admits(_ relation: Relation, _ package: BinaryPackage) -> Bool {
        if let qualifier = relation.architectureQualifier {
            switch qualifier {
            case "any": return package.multiArch == "allowed" || package.multiArch == "foreign" || package.architecture == architecture || package.architecture == "all"
            case "native": return package.architecture == architecture || package.architecture == "all"
            default: return qualifier == architecture && (package.architecture == architecture || package.architecture == "all")
            }
        }
        return true
    }

    private func realSatisfies(_ relation: Relation, _ package: BinaryPackage) -> Bool {
        package.name == relation.name && admits(relation, package)
            && (relation.constraint?.isSatisfied(by: package.version) ?? true)
    }

    private func providerSatisfies(_ relation: Relation, provided: Relation) -> Bool {
        guard let constraint = relation.constraint else { return true }
        // A versioned dependency is met only by a versioned Provides (policy 7.5).
        guard let providedVersion = provided.constraint, providedVersion.op == .equal else { return false }
        return constraint.isSatisfied(by: providedVersion.version)
    }

    private func isSatisfiedBySelection(_ relation: Relation, _ state: State) -> Bool {
        if let selected = state.selected[relation.name], realSatisfies(relation, selected) { return true }
        return state.provided[relation.name]?.contains { admits(relation, $0.package) && providerSatisfies(relation, provided: $0.provided) } ?? false
    }

    private func candidate(for relation: Relation, _ state: State) -> BinaryPackage? {
        if let selected = state.selected[relation.name] {
            // Never switch a selected package to another version.
            if realSatisfies(relation, selected) { return selected }
        } else if let real = universe.byName[relation.name]?.first(where: { realSatisfies(relation, $0) }) {
            return real
        }
        let providers = (universe.providers[relation.name] ?? []).filter {
            admits(relation, $0.package) && providerSatisfies(relation, provided: $0.provided) && !state.excluded.contains($0.package.name)
        }
        if let selected = providers.first(where: { state.selected[$0.package.name]?.version == $0.package.version }) {
            return selected.package
        }
        // Only the newest version of each provider is a candidate, as in apt.
        let newest = providers.filter { universe.byName[$0.package.name]?.first?.version == $0.package.version }
            .filter { state.selected[$0.package.name] == nil }
        return newest.min { a, b in
            let pa = Self.priorityRank(a.package.priority), pb = Self.priorityRank(b.package.priority)
            return pa != pb ? pa < pb : a.package.name < b.package.name
        }?.package
    }

    private static func priorityRank(_ priority: String?) -> Int {
        switch priority {
        case "required": 0
        case "important": 1
        case "standard": 2
        case "optional": 3
        default: 4
        }
    }

    private func explain(_ relations: [Relation], _ state: State) -> String {
        relations.map { relation in
            if let selected = state.selected[relation.name] {
                return "\(selected.nameAndVersion) is selected, which does not satisfy \(relation)"
            }
            if let versions = universe.byName[relation.name] {
                return "\(relation.name) has only \(versions.map { $0.version.description }.joined(separator: ", "))"
            }
            if universe.providers[relation.name] != nil { return "no provider of \(relation.name) fits" }
            return "\(relation.name) is not in any repository"
        }.joined(separator: "; ")
    }

    private func chain(_ name: String, _ state: State) -> [String] {
        var chain = [name]
        var current = name
        var seen: Set<String> = [name]
        while let reason = state.reasons[current] ?? nil, seen.insert(reason.parent).inserted {
            chain.insert(reason.parent, at: 0)
            current = reason.parent
        }
        return chain
    }

    private func checkConflicts(_ state: State) throws {
        for package in state.selected.values.sorted(by: { $0.name < $1.name }) {
            let groups: [[Relation]]
            do {
                groups = try package.conflicts()
            } catch {
                throw ResolverError.unsatisfiable(relation: "Conflicts/Breaks", chain: chain(package.name, state), reason: "unparseable field: \(error)")
            }
            for relation in groups.flatMap({ $0 }) where relation.appliesTo(architecture: architecture) {
                if relation.name != package.name, let other = state.selected[relation.name], realSatisfies(relation, other) {
                    throw ResolverError.conflict(package: package.nameAndVersion, with: other.nameAndVersion, relation: relation.description,
                                                 chains: [chain(package.name, state), chain(other.name, state)])
                }
                for provider in state.provided[relation.name] ?? [] where provider.package.name != package.name
                    && relation.constraint == nil {
                    throw ResolverError.conflict(package: package.nameAndVersion, with: provider.package.nameAndVersion,
                                                 relation: relation.description,
                                                 chains: [chain(package.name, state), chain(provider.package.name, state)])
                }
            }
        }
    }
}
