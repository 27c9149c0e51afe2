import ArgumentParser
import Dispatch
import Foundation
import SpecParser
import WalkContract

/// `specc sweep`: the full kvm-unit-tests access.c space, generated walker vs reference interpreter,
/// on every core, with a progress bar.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run the exhaustive access.c-style sweep: generated walker vs reference interpreter.",
        discussion: """
            Every legal combination of PTE/PDE/PDPTE flags, protection keys, access type and CR0.WP, \
            CR4.SMEP/PKE, EFER.NXE (x86-paging reference §c.5) is built as a walk case and run through \
            both engines; any disagreement is printed. About 19 million cases per level at MAXPHYADDR 46.
            """)

    @Option(help: "Paging levels: 4 or 5.")
    var levels: Int = 4

    @Option(help: "MAXPHYADDR of the CPU.")
    var maxphyaddr: Int = 46

    @Option(help: "Worker threads (default: all cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Stop after this many legal cases (0: all).")
    var limit: Int = 0

    @Flag(help: "Also sweep SMEP, SMAP and RFLAGS.AC (not in access.c's sweep).")
    var supervisorProtections = false

    @Flag(help: "No progress bar.")
    var quiet = false

    func run() throws {
        guard levels == 4 || levels == 5 else { throw ValidationError("--levels must be 4 or 5") }
        let specs = try DefaultSpecs.load()
        let sweep = AccessSweep(
            levels: levels, maxPhysicalAddressBits: maxphyaddr,
            includeSupervisorProtections: supervisorProtections)
        let space = UInt64(1) << UInt64(sweep.flagCount)
        let chunks = 4096
        let chunkSize = space / UInt64(chunks)
        let lock = NSLock()
        nonisolated(unsafe) var done = 0
        nonisolated(unsafe) var checked = 0
        nonisolated(unsafe) var disagreements: [String] = []
        let start = Date()
        let limit = self.limit
        let quiet = self.quiet
        let jobs = max(1, self.jobs)
        DispatchQueue.concurrentPerform(iterations: jobs) { worker in
            let generated = GeneratedEngine(specs: specs)
            let reference = ReferenceEngine(specs: specs)
            var chunk = worker
            while chunk < chunks {
                var local = 0
                var localDisagreements: [String] = []
                let first = UInt64(chunk) * chunkSize
                for c in first..<(first + chunkSize) where sweep.isLegal(c) {
                    let walk = sweep.walkCase(c)
                    var none: [String]? = nil
                    var a = generated.run(walk, explain: &none)
                    var b = reference.run(walk, explain: &none)
                    if a.result == "invalid" && b.result == "invalid" {
                        a.fields = []
                        b.fields = []
                    }
                    if !a.same(as: b) {
                        localDisagreements.append("\(walk.id ?? ""): generated \(a.json) reference \(b.json)")
                    }
                    local += 1
                }
                lock.lock()
                done += 1
                checked += local
                disagreements += localDisagreements
                let stop = limit > 0 && checked >= limit
                if !quiet {
                    let fraction = Double(done) / Double(chunks)
                    let elapsed = Date().timeIntervalSince(start)
                    let eta = fraction > 0 ? elapsed / fraction - elapsed : 0
                    let bar =
                        String(repeating: "#", count: Int(fraction * 40))
                        + String(repeating: ".", count: 40 - Int(fraction * 40))
                    FileHandle.standardError.write(
                        Data(
                            String(
                                format: "\r[%@] %5.1f%% %d cases, %d disagreements, %.0fs elapsed, ETA %.0fs ",
                                bar, fraction * 100, checked, disagreements.count, elapsed, eta
                            ).utf8))
                }
                lock.unlock()
                if stop { break }
                chunk += jobs
            }
        }
        if !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
        for d in disagreements.prefix(50) { print(d) }
        let elapsed = Date().timeIntervalSince(start)
        print(
            String(
                format: "sweep %d-level: %d cases, %d disagreements, %.1f s on %d threads", levels, checked,
                disagreements.count, elapsed, jobs))
        if !disagreements.isEmpty { throw ExitCode(1) }
    }
}
