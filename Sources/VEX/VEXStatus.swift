/// The status a VEX statement gives a vulnerability in its products (OpenVEX v0.2.0).
public enum VEXStatus: String, Sendable, Hashable, CaseIterable, Codable {
    /// No remediation is required: needs a justification or an impact statement.
    case notAffected = "not_affected"
    /// Actions are recommended: needs an action statement.
    case affected
    /// The products contain a fix.
    case fixed
    /// Not known yet.
    case underInvestigation = "under_investigation"

    /// Whether a finding with this status is removed from a scan report (not_affected, fixed).
    public var suppressesFinding: Bool { self == .notAffected || self == .fixed }
}

/// Why a product is not affected (OpenVEX v0.2.0, the five justifications of the spec).
public enum VEXJustification: String, Sendable, Hashable, CaseIterable, Codable {
    case componentNotPresent = "component_not_present"
    case vulnerableCodeNotPresent = "vulnerable_code_not_present"
    case vulnerableCodeNotInExecutePath = "vulnerable_code_not_in_execute_path"
    case vulnerableCodeCannotBeControlledByAdversary = "vulnerable_code_cannot_be_controlled_by_adversary"
    case inlineMitigationsAlreadyExist = "inline_mitigations_already_exist"
}
