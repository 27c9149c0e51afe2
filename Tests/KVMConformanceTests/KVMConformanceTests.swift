import Foundation
import Testing
import WalkContract

@testable import KVMConformance

/// The generated walker against KVM on /dev/kvm. Every test needs a usable /dev/kvm (root on a KVM
/// host); elsewhere they are skipped and the report says why (`Support.skipComment`).
@Suite(.enabled(if: Support.kvmUsable, Support.skipComment))
struct KVMConformanceTests {
    /// 2,000 generated cases (access.c's sweep and random tables), in two halves: every case that
    /// runs agrees, or differs only as a known KVM deviation; none fails.
    @Test(arguments: [UInt64(2026), 7919])
    func generatedCasesAgree(seed: UInt64) throws {
        let specs = try #require(Support.specs)
        let runner = try KVMRunner(specs: specs)
        let widths = [46, 40, 36].map { min($0, runner.hostMaxPhysicalAddressBits) }
        let levels = runner.acceptsLA57 ? [4, 5] : [4]
        let lines = try CaseGenerator(
            specs: specs, options: .init(count: 1000, seed: seed, levels: levels, maxPhysicalAddressBits: widths)
        ).cases()
        let checker = KVMConformance(specs: specs, runner: runner)
        var tally = ConformanceTally()
        var problems: [String] = []
        for (i, line) in lines.enumerated() {
            let report = checker.check(line, label: "line \(i + 1)")
            tally.add(report)
            switch report.verdict {
            case .disagree, .failed: problems.append(report.line ?? "")
            default: break
            }
        }
        #expect(problems.isEmpty, Comment(rawValue: problems.prefix(20).joined(separator: "\n")))
        #expect(tally.allAgree)
        #expect(tally.compared >= 900, Comment(rawValue: tally.summaryLines.joined(separator: "\n")))
        print("seed \(seed): " + tally.summaryLines.joined(separator: "; "))
    }

    /// KVM reproduces what kvm.md §5 records for each row of its table (the oracle works), and
    /// the walker agrees with every row except the documented PK-on-fetch artifact.
    @Test func observedTableReproduces() throws {
        let specs = try #require(Support.specs)
        let runner = try KVMRunner(specs: specs)
        let checker = KVMConformance(specs: specs, runner: runner)
        for line in try Support.fixture("kvm-observed.jsonl") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let expected = try #require(object["expect_kvm"] as? [String: String])
            let c = try WalkCase.parse(object, specs: specs)
            let id = c.id ?? "?"
            guard case .observed(let kvm) = runner.run(c) else {
                Issue.record("\(id): KVM did not run it")
                continue
            }
            var got = ["result": kvm.result]
            for (k, v) in kvm.fields { got[k] = v.trimmingCharacters(in: ["\""]) }
            for (k, v) in expected { #expect(got[k] == v, "\(id): \(k)") }
            let report = checker.check(c, label: id)
            if id == "pke-key1-ad-cpl3-fetch" {
                guard case .deviation(let d) = report.verdict else {
                    Issue.record("\(id): expected the pk-on-fetch deviation, got \(report.line ?? "agreement")")
                    continue
                }
                #expect(d == .protectionKeyOnFetch)
            } else {
                guard case .agree = report.verdict else {
                    Issue.record("\(report.line ?? id)")
                    continue
                }
            }
        }
    }

    /// A VM reused across cases gives exactly what a fresh VM per case gives.
    @Test func reusedVMMatchesFreshVM() throws {
        let specs = try #require(Support.specs)
        let reused = try KVMRunner(specs: specs)
        let fresh = try KVMRunner(specs: specs, options: .init(reuseMachines: false))
        let widths = [46, 40].map { min($0, reused.hostMaxPhysicalAddressBits) }
        let lines = try CaseGenerator(
            specs: specs, options: .init(count: 120, seed: 31, maxPhysicalAddressBits: widths)
        ).cases()
        for line in lines {
            let c = try WalkCase.parse(try JSONSerialization.jsonObject(with: Data(line.utf8)), specs: specs)
            #expect(Self.text(reused.run(c)) == Self.text(fresh.run(c)), "\(c.id ?? "")")
        }
    }

    static func text(_ o: KVMOutcome) -> String {
        switch o {
        case .observed(let r): return r.json
        case .skipped(let why): return "skipped: \(why)"
        case .failed(let why): return "failed: \(why)"
        }
    }

    /// A guest that never stops is a failed case, within the time bound, and the runner goes on.
    @Test func hungGuestIsAFailedCase() throws {
        let specs = try #require(Support.specs)
        let runner = try KVMRunner(specs: specs, options: .init(timeoutMilliseconds: 200))
        let c = try Support.walkCase(Support.simpleCase(id: "hang"))
        runner.testCodeOverride = [0xEB, 0xFE]  // jmp $
        let start = Date()
        guard case .failed(let why) = runner.run(c) else {
            Issue.record("a hung guest must fail")
            return
        }
        #expect(why.contains("did not finish"))
        #expect(Date().timeIntervalSince(start) < 5)
        runner.testCodeOverride = nil
        guard case .observed(let r) = runner.run(c) else {
            Issue.record("the runner must recover after a time-out")
            return
        }
        #expect(r.result == "ok")
    }

    /// Cases this host cannot run are skipped, and the reason comes from the host.
    @Test func hostLimitsAreSkippedWithReasons() throws {
        let specs = try #require(Support.specs)
        let runner = try KVMRunner(specs: specs)
        let checker = KVMConformance(specs: specs, runner: runner)

        // 5-level paging: CR4.LA57 (bit 12), with a PML5 table at 1 MiB - 4 KiB.
        var la57 = Support.simpleCase(id: "la57", cr4: 0x1020, features: ["nx", "la57"])
        la57["regs"] = ["cr0": "0x80010033", "cr3": "0xff000", "cr4": "0x1020", "efer": "0xd01"]
        var memory = la57["memory"] as? [String: String] ?? [:]
        memory["0xff000"] = "0x100007"
        la57["memory"] = memory
        let la57Report = checker.check(try Support.walkCase(la57), label: "la57")
        if runner.acceptsLA57 {
            guard case .agree = la57Report.verdict else {
                Issue.record("LA57 is accepted here, so the case must run: \(la57Report.line ?? "")")
                return
            }
        } else {
            guard case .skipped(let why) = la57Report.verdict else {
                Issue.record("LA57 is refused here, so the case must be skipped: \(la57Report.line ?? "agree")")
                return
            }
            #expect(why.contains("CR4.LA57"), "\(why)")
        }

        // EPT.
        var ept = Support.simpleCase(id: "ept")
        ept["ept"] = ["eptp": "0x20001e"]
        guard case .skipped(let eptWhy) = checker.check(try Support.walkCase(ept), label: "ept").verdict else {
            Issue.record("EPT cases are skipped")
            return
        }
        #expect(eptWhy.contains("EPT"))

        // A 1 GiB page, on a CPU with pdpe1gb.
        var huge = Support.simpleCase(id: "1g", features: ["nx", "pdpe1gb"])
        huge["memory"] = ["0x1007f0": "0x101007", "0x101240": "0x400000e7"]
        let hugeCase = try Support.walkCase(huge)
        let hugeReport = checker.check(hugeCase, label: "1g")
        if runner.missingEntryFeatures(hugeCase).contains("pdpe1gb") {
            guard case .skipped(let why) = hugeReport.verdict else {
                Issue.record("1 GiB pages are unsupported here: \(hugeReport.line ?? "agree")")
                return
            }
            #expect(why.contains("pdpe1gb"))
        } else {
            guard case .agree = hugeReport.verdict else {
                Issue.record("\(hugeReport.line ?? "")")
                return
            }
        }

        // PAE paging (EFER.LME clear) and CPL 1: not what the runner's 64-bit guest runs.
        var pae = Support.simpleCase(id: "pae")
        pae["regs"] = ["cr0": "0x80010033", "cr3": "0x100000", "cr4": "0x20", "efer": "0x800"]
        guard case .skipped = runner.run(try Support.walkCase(pae)) else {
            Issue.record("PAE cases are skipped")
            return
        }
        guard case .skipped = runner.run(try Support.walkCase(Support.simpleCase(id: "cpl1", cpl: 1))) else {
            Issue.record("CPL 1 cases are skipped")
            return
        }
    }

    /// A user access to a mapped, permitted page in PVM's reserved slot is never a plain
    /// disagreement: it agrees, or it is the `pvm-user-hole` deviation, found by probing.
    @Test func userModeHoleIsNamed() throws {
        let specs = try #require(Support.specs)
        let runner = try KVMRunner(specs: specs)
        let checker = KVMConformance(specs: specs, runner: runner)
        for linear: UInt64 in [0xFFFF_8012_3460_3100, 0x7F12_3460_3100] {
            let c = try Support.walkCase(Support.simpleCase(id: "hole", linear: linear, cpl: 3))
            let report = checker.check(c, label: "hole")
            switch report.verdict {
            case .agree: break
            case .deviation(let d): #expect(d.name == "pvm-user-hole")
            default: Issue.record("\(report.line ?? "")")
            }
        }
    }
}
