import Foundation
import SpecParser
import Testing
import WalkContract

/// Golden walk cases derived from the SDM rules by an independent oracle (Golden/oracle.py),
/// run through both engines.
@Suite struct GoldenWalkTests {
    static func goldenLines(_ name: String) -> [String] {
        let url = TestSupport.testsDirectory.appendingPathComponent("Golden").appendingPathComponent(name)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    @Test(arguments: ["generated", "reference"], ["paging-golden.jsonl", "ept-golden.jsonl"])
    func goldenCases(engine: String, file: String) throws {
        let specs = try #require(TestSupport.specs, "specs/ must load")
        let lines = Self.goldenLines(file)
        #expect(lines.count >= 400, "\(file) must hold at least 400 cases")
        let runner: any WalkEngine =
            engine == "generated" ? GeneratedEngine(specs: specs) : ReferenceEngine(specs: specs)
        var failures: [String] = []
        for line in lines {
            guard let object = TestSupport.object(line), let expect = object["expect"] as? [String: Any] else {
                failures.append("unreadable golden line: \(line.prefix(80))")
                continue
            }
            let result = WalkRunner.run(line, specs: specs, engine: runner).result
            if !TestSupport.matches(result, expect) {
                failures.append(
                    "\(object["id"] ?? "?"): \(object["reason"] ?? "")\n  expected \(expect)\n  got      \(result.json)"
                )
            }
        }
        #expect(
            failures.isEmpty,
            "\(failures.count) of \(lines.count) golden cases differ (\(engine)):\n\(failures.prefix(15).joined(separator: "\n"))"
        )
    }

    @Test(arguments: ["generated", "reference"])
    func contractExamples(engine: String) throws {
        let specs = try #require(TestSupport.specs)
        let shared = TestSupport.repositoryRoot.deletingLastPathComponent().appendingPathComponent(
            "shared/contracts/examples")
        let cases = try String(contentsOf: shared.appendingPathComponent("walk-cases.jsonl"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let results = try String(contentsOf: shared.appendingPathComponent("walk-results.jsonl"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        try #require(cases.count == results.count && cases.count == 15)
        let runner: any WalkEngine =
            engine == "generated" ? GeneratedEngine(specs: specs) : ReferenceEngine(specs: specs)
        for (c, r) in zip(cases, results) {
            let got = WalkRunner.run(c, specs: specs, engine: runner).result
            let want = try #require(TestSupport.object(r))
            #expect(TestSupport.matches(got, want), "expected \(r)\n got \(got.json)")
        }
    }
}
