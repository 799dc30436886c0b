import Testing
import Debian

@Suite struct RelationTests {
    @Test func documentedExample() throws {
        let groups = try RelationParser.parse("a (>= 1.2) | b:any, c [amd64] <!nocheck>")
        try #require(groups.count == 2 && groups[0].count == 2 && groups[1].count == 1)
        let a = groups[0][0], b = groups[0][1], c = groups[1][0]
        #expect(a.name == "a")
        #expect(a.constraint == VersionConstraint(.greaterOrEqual, try DebianVersion("1.2")))
        #expect(a.architectureQualifier == nil && a.architectures.isEmpty && a.profiles.isEmpty)
        #expect(b.name == "b" && b.architectureQualifier == "any" && b.constraint == nil)
        #expect(c.name == "c" && c.architectures == ["amd64"] && c.profiles == [["!nocheck"]])
        #expect(RelationParser.format(groups) == "a (>= 1.2) | b:any, c [amd64] <!nocheck>")
    }

    @Test func realDependsField() throws {
        let field = "libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstdc++6 (>= 13.1),\n debconf (>= 0.5) | debconf-2.0, perl:any"
        let groups = try RelationParser.parse(field)
        #expect(groups.map { $0.map(\.name) } == [["libc6"], ["libgcc-s1"], ["libstdc++6"], ["debconf", "debconf-2.0"], ["perl"]])
        #expect(groups[4][0].architectureQualifier == "any")
    }

    @Test func operatorsAndSpacing() throws {
        let cases: [(String, VersionConstraint.Operator, String)] = [
            ("a(>=1)", .greaterOrEqual, "1"),
            ("a (<< 2:1.0~rc1-1)", .lessThan, "2:1.0~rc1-1"),
            ("a(  <=  3 )", .lessOrEqual, "3"),
            ("a (= 1.0-1)", .equal, "1.0-1"),
            ("a (>>1.0)", .greaterThan, "1.0"),
            ("a (< 1.0)", .lessOrEqual, "1.0"),     // obsolete "<" means "<="
            ("a (> 1.0)", .greaterOrEqual, "1.0"),  // obsolete ">" means ">="
            ("a:native(=1)", .equal, "1"),
        ]
        for (text, op, version) in cases {
            let relation = try #require(try RelationParser.parse(text).first?.first, "\(text)")
            #expect(relation.name == "a", "\(text)")
            #expect(relation.constraint?.op == op, "\(text)")
            #expect(relation.constraint?.version == (try DebianVersion(version)), "\(text)")
        }
        #expect(try RelationParser.parse("a:native(=1)").first?.first?.architectureQualifier == "native")
    }

    @Test func architecturesAndProfiles() throws {
        let field = "gcc-multilib [amd64 i386 x32] <!nocheck> <stage1 cross>, libc6-dev [!hurd-any !kfreebsd-any], foo:amd64 [linux-any]"
        let groups = try RelationParser.parse(field)
        try #require(groups.count == 3)
        let multilib = groups[0][0], libc = groups[1][0], foo = groups[2][0]
        #expect(multilib.architectures == ["amd64", "i386", "x32"])
        #expect(multilib.profiles == [["!nocheck"], ["stage1", "cross"]])
        #expect(multilib.appliesTo(architecture: "amd64"))
        #expect(!multilib.appliesTo(architecture: "arm64"))
        #expect(libc.architectures == ["!hurd-any", "!kfreebsd-any"])
        #expect(libc.appliesTo(architecture: "amd64"))
        #expect(!libc.appliesTo(architecture: "hurd-i386"))
        #expect(foo.architectureQualifier == "amd64")
        #expect(foo.appliesTo(architecture: "arm64") && !foo.appliesTo(architecture: "hurd-amd64"))
        #expect(Relation(name: "x").appliesTo(architecture: "anything"))
        #expect(Relation(name: "x", architectures: ["any-arm"]).appliesTo(architecture: "armhf"))
        #expect(!Relation(name: "x", architectures: ["any-arm"]).appliesTo(architecture: "arm64"))
        #expect(Relation(name: "x", architectures: ["!i386"]).appliesTo(architecture: "amd64"))
        #expect(!Relation(name: "x", architectures: ["!amd64"]).appliesTo(architecture: "amd64"))

        #expect(multilib.appliesTo(profiles: []))
        #expect(!multilib.appliesTo(profiles: ["nocheck"]))
        #expect(multilib.appliesTo(profiles: ["nocheck", "stage1", "cross"]))
        #expect(Relation(name: "x").appliesTo(profiles: ["nocheck"]))
        #expect(multilib.description == "gcc-multilib [amd64 i386 x32] <!nocheck> <stage1 cross>")
    }

    @Test func emptyFields() throws {
        #expect(try RelationParser.parse("").isEmpty)
        #expect(try RelationParser.parse("  \n\t ").isEmpty)
        // Trailing commas (common in debian/control) are tolerated.
        #expect(try RelationParser.parse("a, b,\n").map { $0.map(\.name) } == [["a"], ["b"]])
    }

    @Test func versionConstraints() throws {
        let v = { (s: String) throws -> DebianVersion in try DebianVersion(s) }
        #expect(VersionConstraint(.greaterOrEqual, try v("1.2")).isSatisfied(by: try v("1.2")))
        #expect(VersionConstraint(.greaterOrEqual, try v("1.2")).isSatisfied(by: try v("1.10")))
        #expect(!VersionConstraint(.greaterOrEqual, try v("1.2")).isSatisfied(by: try v("1.2~rc1")))
        #expect(VersionConstraint(.lessThan, try v("2.0")).isSatisfied(by: try v("2.0~beta")))
        #expect(!VersionConstraint(.lessThan, try v("2.0")).isSatisfied(by: try v("2.0")))
        #expect(VersionConstraint(.lessOrEqual, try v("2.0")).isSatisfied(by: try v("2.0-0")))
        #expect(VersionConstraint(.equal, try v("1.0-1")).isSatisfied(by: try v("0:1.00-1")))
        #expect(!VersionConstraint(.equal, try v("1.0-1")).isSatisfied(by: try v("1.0-1+b1")))
        #expect(VersionConstraint(.greaterThan, try v("1.0")).isSatisfied(by: try v("1:0.1")))
        #expect(!VersionConstraint(.greaterThan, try v("1.0")).isSatisfied(by: try v("1.0")))
        let relation = try #require(try RelationParser.parse("libc6 (>= 2.36)").first?.first)
        #expect(relation.isSatisfied(by: try v("2.36-9+deb12u4")))
        #expect(!relation.isSatisfied(by: try v("2.31-13")))
        #expect(Relation(name: "x").isSatisfied(by: try v("0")))
        #expect(relation.constraint?.description == ">= 2.36")
    }

    @Test(arguments: [
        ("a (>= )", "a (>= )", "missing version after '>='"),
        ("a (~ 1)", "a (~ 1)", "invalid version operator '~'"),
        ("a (=> 1)", "a (=> 1)", "invalid version operator '=>'"),
        ("a (>= 1", "a (>= 1", "unbalanced '(': missing ')'"),
        ("a (>= 1.0 2)", "a (>= 1.0 2)", "unexpected '2' in version constraint"),
        ("a (>= x1)", "a (>= x1)", "invalid version 'x1': version number does not start with digit"),
        ("a (", "a (", "unbalanced '(': missing version"),
        ("| b", "| b", "empty alternative"),
        ("a |", "a |", "empty alternative"),
        ("a || b", "a || b", "empty alternative"),
        ("x, a | , y", "a |", "empty alternative"),
        ("a [amd64", "a [amd64", "unbalanced '[': missing ']'"),
        ("a amd64]", "a amd64]", "unexpected 'a' after 'a'"),
        ("a ]", "a ]", "unexpected ']' after 'a'"),
        ("a []", "a []", "empty architecture list '[]'"),
        ("a [amd64 !i386]", "a [amd64 !i386]", "architecture list mixes negated and plain architectures"),
        ("a <!nocheck", "a <!nocheck", "unbalanced '<': missing '>'"),
        ("a <>", "a <>", "empty build profile group '<>'"),
        ("a b", "a b", "unexpected 'b' after 'a'"),
        ("(>= 1)", "(>= 1)", "missing package name before '('"),
        ("Foo", "Foo", "package name 'Foo' must start with a lowercase letter or digit"),
        ("a_b", "a_b", "invalid character '_' in package name 'a_b'"),
        ("a:", "a:", "invalid architecture qualifier '' after 'a'"),
        ("${misc:Depends}", "${misc:Depends}", "package name '${misc' must start with a lowercase letter or digit"),
    ])
    func malformed(field: String, group: String, reason: String) {
        #expect(throws: DebianError.invalidRelation(group, reason: reason)) { try RelationParser.parse(field) }
    }
}
