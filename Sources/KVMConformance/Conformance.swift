import Foundation
import SpecParser
import WalkContract

/// How one case's KVM outcome compares with the generated walker's.
public enum Verdict {
    /// Same result, physical address or error code, and accessed/dirty writes.
    case agree
    /// A difference in the named fields.
    case disagree([String])
    /// A difference that a documented KVM deviation explains.
    case deviation(KnownDeviation)
    /// Not run here, with the reason.
    case skipped(String)
    /// Run, with no usable outcome (a time-out, a crash), with the reason.
    case failed(String)
}

/// One case's report.
public struct CaseReport {
    /// The case's id, or `line N`.
    public var id: String
    /// The verdict.
    public var verdict: Verdict
    /// KVM's result, when it ran.
    public var kvm: WalkResult?
    /// The generated walker's result.
    public var ours: WalkResult?

    /// The line printed for the case, or `nil` when it agrees.
    public var line: String? {
        let results = [kvm.map { "kvm \($0.json)" }, ours.map { "ours \($0.json)" }].compactMap { $0 }.joined(
            separator: " ")
        switch verdict {
        case .agree: return nil
        case .disagree(let fields): return "disagree \(id): \(fields.joined(separator: ", ")): \(results)"
        case .deviation(let d): return "deviation \(id): \(d): \(d.summary): \(results)"
        case .skipped(let why): return "skip \(id): \(why)"
        case .failed(let why): return "fail \(id): \(why)" + (results.isEmpty ? "" : ": \(results)")
        }
    }
}

/// Checks walk cases against KVM: runs each on KVM (``KVMRunner``) and through the generated walker
/// (``GeneratedEngine``), and compares what both can observe.
///
/// Compared: the kind of result; for a translation the physical address and the accessed/dirty
/// writes; for a page fault the error code, the writes, and CR2 (which must be the case's linear
/// address). Not compared: the page size, which KVM does not report.
public final class KVMConformance {
    /// The specs.
    public let specs: SpecSet
    /// The KVM runner.
    public let runner: KVMRunner
    let engine: GeneratedEngine

    /// Creates a checker.
    public init(specs: SpecSet, runner: KVMRunner) {
        self.specs = specs
        self.runner = runner
        engine = GeneratedEngine(specs: specs)
    }

    /// Checks one case given as JSON text; `label` names it when it has no id.
    public func check(_ text: String, label: String) -> CaseReport {
        guard let data = text.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) else {
            return CaseReport(id: label, verdict: .failed("not valid JSON"))
        }
        do {
            return check(try WalkCase.parse(object, specs: specs), label: label)
        } catch let invalid as WalkCase.Invalid {
            return CaseReport(id: label, verdict: .failed("invalid case: \(invalid)"))
        } catch {
            return CaseReport(id: label, verdict: .failed("invalid case: \(error)"))
        }
    }

    /// Checks one parsed case.
    public func check(_ c: WalkCase, label: String) -> CaseReport {
        let id = c.id ?? label
        var trace: [String]? = nil
        let ours = engine.run(c, explain: &trace)
        var report = CaseReport(id: id, verdict: .agree, ours: ours)
        let oursFields = Self.fields(ours)
        if ours.result == "invalid" {
            let message = oursFields["message"].flatMap { Data($0.utf8) }
                .flatMap { try? JSONSerialization.jsonObject(with: $0, options: .fragmentsAllowed) as? String }
            report.verdict = .skipped("the walker finds the case invalid: \(message ?? "")")
            return report
        }
        let missing = runner.missingEntryFeatures(c)
        if !missing.isEmpty {
            var reduced = c
            reduced.features.subtract(missing)
            if engine.run(reduced, explain: &trace).json != ours.json {
                report.verdict = .skipped(
                    "the walk depends on \(missing.joined(separator: ", ")), which KVM on this host does not offer (KVM_GET_SUPPORTED_CPUID; kvm.md §11.3)"
                )
                return report
            }
        }
        switch runner.run(c) {
        case .skipped(let why):
            report.verdict = .skipped(why)
        case .failed(let why):
            report.verdict = .failed(why)
        case .observed(let kvm):
            report.kvm = kvm
            let kvmFields = Self.fields(kvm)
            let differences = Self.differences(kvm: kvmFields, ours: oursFields, linear: c.address)
            if differences.isEmpty {
                report.verdict = .agree
            } else if let d = KnownDeviation.recognize(c, kvm: kvmFields, ours: oursFields, facts: runner.facts) {
                report.verdict = .deviation(d)
            } else if kvm.result == "page-fault", let range = runner.userModeHole(containing: c) {
                report.verdict = .deviation(.userModeHole(range))
            } else {
                report.verdict = .disagree(differences)
            }
        }
        return report
    }

    static func fields(_ r: WalkResult) -> [String: String] {
        var f = ["result": r.result]
        for (k, v) in r.fields { f[k] = v }
        return f
    }

    /// The observable fields in which the two results differ.
    static func differences(kvm: [String: String], ours: [String: String], linear: UInt64) -> [String] {
        guard kvm["result"] == ours["result"] else { return ["result"] }
        switch kvm["result"] {
        case "ok":
            return ["physical", "writes"].filter { kvm[$0] != ours[$0] }
        case "page-fault":
            var d = ["error_code", "writes"].filter { kvm[$0] != ours[$0] }
            if kvm["cr2"] != WalkResult.hex(linear) { d.append("cr2") }
            return d
        default:
            return []
        }
    }
}

/// Counts of a conformance run, and its summary lines.
public struct ConformanceTally {
    /// Cases compared (neither skipped nor a known deviation).
    public private(set) var compared = 0
    /// Compared cases that agree.
    public private(set) var agreed = 0
    /// Cases that disagree.
    public private(set) var disagreed = 0
    /// Cases that failed to run.
    public private(set) var failed = 0
    /// Skipped cases, by reason.
    public private(set) var skipped: [String: Int] = [:]
    /// Known deviations met, by name.
    public private(set) var deviations: [String: Int] = [:]

    /// An empty tally.
    public init() {}

    /// Counts a report.
    public mutating func add(_ r: CaseReport) {
        switch r.verdict {
        case .agree: compared += 1; agreed += 1
        case .disagree: compared += 1; disagreed += 1
        case .failed: compared += 1; failed += 1
        case .skipped(let why): skipped[why, default: 0] += 1
        case .deviation(let d): deviations[d.name, default: 0] += 1
        }
    }

    /// Whether every compared case agrees.
    public var allAgree: Bool { agreed == compared }
    /// The number of skipped cases.
    public var skippedCount: Int { skipped.values.reduce(0, +) }
    /// The number of cases a known deviation explains.
    public var deviationCount: Int { deviations.values.reduce(0, +) }

    /// `agree: N/M`, then the skipped cases by reason and the deviations by name.
    public var summaryLines: [String] {
        var lines = ["agree: \(agreed)/\(compared)"]
        if disagreed + failed > 0 { lines.append("disagree: \(disagreed), failed: \(failed)") }
        lines.append(
            "known KVM deviations: \(deviationCount)"
                + deviations.keys.sorted().map { " \($0)=\(deviations[$0] ?? 0)" }.joined())
        lines.append("skipped: \(skippedCount)")
        for why in skipped.keys.sorted() { lines.append("  \(skipped[why] ?? 0) × \(why)") }
        return lines
    }
}
