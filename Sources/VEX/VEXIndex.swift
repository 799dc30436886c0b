import Foundation

/// The statements of some documents, ready to answer "what does VEX say about this finding?".
///
/// A statement applies to a finding (a vulnerability id and its aliases, found in a package of a
/// product) when:
///
/// - its vulnerability name or one of its aliases equals the finding's id or one of its aliases,
///   ignoring case;
/// - one of its products matches one of the finding's product purls (`PURL.matches`, the
///   statement's side being the general one), the product named by an `@id` or
///   `identifiers.purl` that is a purl (a product named otherwise never matches);
/// - and, if that product lists subcomponents, one of them matches the finding's package (a
///   product without subcomponents covers all its packages).
///
/// When several apply, the latest wins (OpenVEX: later statements supersede earlier ones): by
/// timestamp, a statement without one taking its document's; of equal timestamps, the last in
/// the order of `documents` and their statements.
public struct VEXIndex: Sendable {
    private struct Entry: Sendable {
        /// The statement, its timestamp filled in from its document when it had none.
        let statement: VEXStatement
        let timestamp: Date
        let order: Int
        /// Per product: its purls, and its subcomponents' purls (nil: the whole product).
        let products: [(purls: [PURL], subcomponents: [[PURL]]?)]
    }

    private let entries: [Entry]
    /// Entry positions by lower-cased vulnerability name and alias.
    private let byVulnerability: [String: [Int]]

    /// An index of the statements of `documents`.
    public init(documents: [VEXDocument]) {
        var entries: [Entry] = []
        var byVulnerability: [String: [Int]] = [:]
        for document in documents {
            for statement in document.statements {
                var statement = statement
                let timestamp = statement.timestamp ?? document.timestamp
                statement.timestamp = timestamp
                let products = statement.products.map { product in
                    (purls: product.purls, subcomponents: product.subcomponents.flatMap { $0.isEmpty ? nil : $0.map(\.purls) })
                }
                let names = Set(([statement.vulnerability.name] + (statement.vulnerability.aliases ?? [])).map { $0.lowercased() })
                for name in names { byVulnerability[name, default: []].append(entries.count) }
                entries.append(Entry(statement: statement, timestamp: timestamp, order: entries.count, products: products))
            }
        }
        self.entries = entries
        self.byVulnerability = byVulnerability
    }

    /// Whether there are no statements at all.
    public var isEmpty: Bool { entries.isEmpty }

    /// The statement that applies to a finding of `vulnerability` (also known as `aliases`) in the
    /// package `subcomponent` of a product known by the purls `product`, or nil (rules: see the
    /// type). The statement comes with its timestamp filled in.
    public func statement(vulnerability: String, aliases: [String] = [], product: [PURL], subcomponent: PURL?) -> VEXStatement? {
        var candidates = Set<Int>()
        for name in [vulnerability] + aliases {
            candidates.formUnion(byVulnerability[name.lowercased()] ?? [])
        }
        var best: Entry?
        for position in candidates {
            let entry = entries[position]
            guard applies(entry, product: product, subcomponent: subcomponent) else { continue }
            if let current = best, (current.timestamp, current.order) > (entry.timestamp, entry.order) { continue }
            best = entry
        }
        return best?.statement
    }

    private func applies(_ entry: Entry, product: [PURL], subcomponent: PURL?) -> Bool {
        entry.products.contains { candidate in
            guard candidate.purls.contains(where: { mine in product.contains(where: mine.matches) }) else { return false }
            guard let subcomponents = candidate.subcomponents else { return true }
            guard let subcomponent else { return false }
            return subcomponents.contains { $0.contains { $0.matches(subcomponent) } }
        }
    }
}
